export * as protocol from "./protocol.js";
export {
  type Message, type VringState, type VringAddr, type MemoryRegion,
  encode, decodeHeader, decodeU64, decodeState, decodeAddr, decodeMemTable, u64Payload, statePayload, addrPayload, memTablePayload,
} from "./message.js";
export { SyncChannel } from "./sync-channel.js";
export { VhostUserFrontend, type BackendInfo, type RingSetup } from "./frontend.js";
export { VhostUserTransport, type LinkListener, USERSPACE_BASE } from "./transport.js";
export { type VirtioUserOptions, VIRTIO_USER_KEYS, parseVirtioUserArgs, DEFAULT_VIRTIO_USER_QUEUE_SIZE } from "./options.js";
export { deviceFeatures, backendFeatureMask } from "./features.js";
export { VhostUserBackend, type BackendOptions, type BackendCounters, type BackendLinkListener } from "./backend/server.js";
export { BackendSession, ProtocolError, type DataPlane, type RingRun, type SessionOptions } from "./backend/session.js";
export { GuestMemoryTable, MemTableError, MAX_FILE_BYTES, translate } from "./backend/guest-memory.js";
export { offeredFeatures, offeredProtocolFeatures } from "./backend/features.js";
export { NetVhostPort } from "./backend/port.js";
export { type NetVhostOptions, NET_VHOST_KEYS, NET_VHOST_MAX_QUEUES, parseNetVhostArgs } from "./backend/options-backend.js";
export { registerNetVhostQueues } from "./backend/lcore.js";
export { NetVhostRxQueue } from "./backend/rx-burst.js";
export { NetVhostTxQueue } from "./backend/tx-burst.js";
export { GuestQueue } from "./backend/guest-queue.js";
export { RingControl, RingWords, RING_BYTES } from "./backend/ring-control.js";

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

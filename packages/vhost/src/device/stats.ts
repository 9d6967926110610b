import type { Memory } from "@tpdk/eal";
import {
  TRANSPORT_STAT_BAD_TRAPS,
  TRANSPORT_STAT_INTERRUPTS,
  TRANSPORT_STAT_KICKS,
  TRANSPORT_STAT_RESETS,
  TRANSPORT_STAT_TRAPS,
} from "@tpdk/virtio";

/**
 * Per-device counters: Float64 slots in the device zone (see layout.ts),
 * written by the device thread only, read by anyone at any time. The slot
 * numbers are the S_* constants below; DEVICE_STAT_NAMES gives each slot's
 * name in the same order. The transport's own u32 counters (traps, kicks,
 * interrupts, resets) live in the transport region (TRANSPORT_STAT_*).
 *
 * Every frame the wire announces ends in exactly one of rxPackets, rxMissed,
 * rxOversize, rxNoFit or rxDropped. Every chain the driver makes available on
 * a TX queue ends in exactly one of txPackets or txDropped (plus the error
 * counter saying why), unless the device needed a reset.
 */
// --- data path ---
export const S_RX_PACKETS = 0; // frames written into RX buffers
export const S_RX_BYTES = 1; // their bytes (frame only, no virtio-net header)
export const S_RX_MISSED = 2; // frames dropped: no RX buffer posted (wire.drop())
export const S_RX_OVERSIZE = 3; // frames longer than MTU + 18 (when MTU is negotiated) or 65535
export const S_RX_NO_FIT = 4; // without MRG_RXBUF: frame + header larger than the posted buffer
export const S_RX_DROPPED = 5; // frames dropped because a malformed RX chain interrupted them
export const S_TX_PACKETS = 6; // frames handed to the wire
export const S_TX_BYTES = 7; // their bytes (frame only)
export const S_TX_DROPPED = 8; // TX chains returned without reaching the wire (malformed, link down)
export const S_TX_GATHERED = 9; // TX frames copied into the scratch area (spread over descriptors)
export const S_NEEDS_RESET = 10; // times the device entered DEVICE_NEEDS_RESET
// --- errors: untrusted driver input (named per cause) ---
export const S_ERR_AVAIL_IDX = 11; // avail.idx more than a queue size ahead (fatal)
export const S_ERR_HEAD_INDEX = 12; // avail ring entry >= queue size (fatal)
export const S_ERR_NEXT_INDEX = 13; // next >= queue size, or beyond the indirect table (chain dropped)
export const S_ERR_CHAIN_LENGTH = 14; // chain longer than the queue size, loops included (dropped)
export const S_ERR_INDIRECT_NEXT = 15; // INDIRECT together with NEXT (dropped)
export const S_ERR_INDIRECT_NESTED = 16; // INDIRECT inside an indirect table (dropped)
export const S_ERR_INDIRECT_TABLE = 17; // table length 0, not a multiple of 16, or misaligned (dropped)
export const S_ERR_INDIRECT_FEATURE = 18; // INDIRECT without INDIRECT_DESC negotiated (dropped)
export const S_ERR_ADDR_HIGH = 19; // descriptor address high half not 0 (dropped)
export const S_ERR_ADDR_RANGE = 20; // buffer or table outside shared memory (dropped)
export const S_ERR_DESC_ORDER = 21; // device-readable descriptor after a device-writable one (dropped)
export const S_ERR_RX_READABLE = 22; // device-readable descriptor in an RX buffer (dropped)
export const S_ERR_RX_BUFFER_SMALL = 23; // MRG_RXBUF buffer smaller than the header (dropped)
export const S_ERR_TX_SHORT = 24; // TX chain shorter than header + 14 bytes (dropped)
export const S_ERR_TX_OVERSIZE = 25; // TX frame longer than 65535 bytes (dropped)
export const S_ERR_QUEUE_SETUP = 26; // bad queue_size value (ignored); queue_enable with bad addresses/alignment (refused, NEEDS_RESET)
export const S_ERR_LATE_WRITE = 27; // register write refused (features after FEATURES_OK, queue after enable/DRIVER_OK)
export const S_ERR_FEATURES = 28; // FEATURES_OK refused (features not offered)
export const S_ERR_STATUS = 29; // status write refused (DRIVER_OK before FEATURES_OK, clearing bits)
export const S_ERR_INTERNAL = 30; // exception inside the device code or the wire (NEEDS_RESET)
// --- control virtqueue (§5.1.6.5) ---
export const S_CTRL_COMMANDS = 31; // control chains the device took (answered or returned)
export const S_CTRL_ERRORS = 32; // of those: answered VIRTIO_NET_ERR, or returned unanswered (no ack byte)
export const S_ERR_CTRL_CHAIN = 33; // malformed control chain/command (bad descriptors, header < 2 bytes, no ack byte, wrong data size)
export const DEVICE_STAT_SLOTS = 34;

export const DEVICE_STAT_NAMES = [
  "rxPackets",
  "rxBytes",
  "rxMissed",
  "rxOversize",
  "rxNoFit",
  "rxDropped",
  "txPackets",
  "txBytes",
  "txDropped",
  "txGathered",
  "needsReset",
  "errAvailIdx",
  "errHeadIndex",
  "errNextIndex",
  "errChainLength",
  "errIndirectNext",
  "errIndirectNested",
  "errIndirectTable",
  "errIndirectFeature",
  "errAddrHigh",
  "errAddrRange",
  "errDescOrder",
  "errRxReadable",
  "errRxBufferSmall",
  "errTxShort",
  "errTxOversize",
  "errQueueSetup",
  "errLateWrite",
  "errFeatures",
  "errStatus",
  "errInternal",
  "ctrlCommands",
  "ctrlErrors",
  "errCtrlChain",
] as const;

export type DeviceStatName = (typeof DEVICE_STAT_NAMES)[number];

/** A snapshot of a device's counters: the device's own slots plus the transport's. */
export type DeviceStats = Record<DeviceStatName, number> & {
  /** Register accesses the driver trapped. */
  traps: number;
  /** Traps with a bad space/offset/width (answered 0 or ignored). */
  badTraps: number;
  /** Available-buffer notifications (sum of the queues' notify words; folded in about once per ms). */
  kicks: number;
  /** Used-buffer notifications sent to the driver. */
  interrupts: number;
  /** Device resets (status 0 written). */
  resets: number;
};

/** Read a device's counters (any thread). Cold path: allocates the snapshot. */
export function readDeviceStats(mem: Memory, statsOffset: number, transportOffset: number): DeviceStats {
  const out: Record<string, number> = {};
  const base = statsOffset >>> 3;
  for (let i = 0; i < DEVICE_STAT_SLOTS; i++) out[DEVICE_STAT_NAMES[i]!] = mem.f64[base + i]!;
  out.traps = Atomics.load(mem.u32, (transportOffset + TRANSPORT_STAT_TRAPS) >>> 2);
  out.badTraps = Atomics.load(mem.u32, (transportOffset + TRANSPORT_STAT_BAD_TRAPS) >>> 2);
  out.kicks = Atomics.load(mem.u32, (transportOffset + TRANSPORT_STAT_KICKS) >>> 2);
  out.interrupts = Atomics.load(mem.u32, (transportOffset + TRANSPORT_STAT_INTERRUPTS) >>> 2);
  out.resets = Atomics.load(mem.u32, (transportOffset + TRANSPORT_STAT_RESETS) >>> 2);
  return out as DeviceStats;
}

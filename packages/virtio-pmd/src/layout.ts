import { packedRingLayout, splitRingLayout } from "@tpdk/virtio";

/**
 * Shared-memory layout of the driver's state, so that the lcore owning a
 * queue drives it while the main thread configures ports and reads counters.
 *
 * Port table: port-layout.ts (re-exported here for the lcore side).
 *
 * Queue zone ("vpmd<port>.<rx|tx>q<q>.<Q>"), one per queue, 64-byte aligned:
 *
 *   +0     header, u32 words Q_* (main thread writes at setup/start/stop)
 *   +128   statistics, Float64 slots S_* (only the owning lcore writes)
 *   +448   claim: u32 token of the queue object driving the queue this run (0 = none)
 *   +452   parked: u32, 1 once a queue object saw the queue closed (Q_PARKED)
 *   +456   left run: u32, the run in which a queue object that drove the queue detached (Q_LEFT_RUN)
 *   +460   kick fd: u32 byte address of the transport's kick-fd words, 0 = none (Q_KICK_FD)
 *   +464   fenced avail: u32, the split TX avail.idx at the lcore's last fenced kick check (Q_FENCED_AVAIL)
 *   +468   packed fenced: u32, the packed TX position (pos | wrap << 15) at that check (Q_PACKED_FENCED)
 *   +472   packed published: u32, the packed TX position after the lcore's last publish (Q_PACKED_PUBLISHED)
 *   +512   the split ring: desc, avail, used (splitRingLayout, each on its own line); or with
 *          QF_PACKED the packed ring: descriptors, driver and device event suppression (packedRingLayout)
 *   ...    owner table: u32 per descriptor = mbuf handle the descriptor holds, 0 = free
 *   ...    TX only: Q per-descriptor regions of TX_REGION bytes
 *            +0 virtio_net_hdr (zeroed at setup, stays zero: no offloads)
 *            +16 indirect table, TX_INDIRECT_MAX descriptors
 */
export * from "./port-layout.js";

// --- queue zone header (byte offsets of u32 words) ---
/** 0 = stopped; otherwise the run generation, bumped at every start (lcores resync when it changes). */
export const Q_RUN = 0;
/** Q_RUN of a zone its queue no longer uses (re-set up with another size): lcores re-bind through the port table. */
export const Q_RUN_RETIRED = 0xffffffff;
export const Q_SIZE = 4;
export const Q_VQ = 8;
export const Q_FLAGS = 12;
export const Q_HDR_SIZE = 16;
export const Q_DESC = 20;
export const Q_AVAIL = 24;
export const Q_USED = 28;
export const Q_NOTIFY = 32;
export const Q_DOORBELL = 36;
export const Q_INTERRUPT = 40;
export const Q_OWNER = 44;
export const Q_TX_REGION = 48;
export const Q_FREE_THRESH = 52;
/** RX: avail.idx after the main thread's initial fill at start. */
export const Q_START_AVAIL = 56;
export const Q_PORT = 60;
export const Q_QUEUE = 64;
export const Q_TX_MODE = 68;
export const Q_POOL_ID = 72;
/** Run generation counter: survives re-setup of the zone so Q_RUN values never repeat. */
export const Q_GEN = 76;
/** RX: pool name, NUL-padded UTF-8 (the lcore looks the pool up by name). */
export const Q_POOL_NAME = 80;
export const Q_POOL_NAME_BYTES = 48;
export const Q_STATS = 128;
export const Q_STATS_SLOTS = 40;
/** u32: token of the RxQueue/TxQueue object that drives the queue in this run, 0 = none (QueueBase.claim). */
export const Q_CLAIM = Q_STATS + 8 * Q_STATS_SLOTS;
/**
 * u32: set to 1 by a queue object that found the queue closed (Q_RUN 0) at the top of a burst,
 * so it is out of every burst of the closed run; the main thread clears it before it closes a
 * running queue whose rings it resets under the lcores (PortQueues.resetRings).
 */
export const Q_PARKED = Q_CLAIM + 4;
/**
 * Q_PARKED's value while a reset waits for the queue's object (PortQueues.resetRings): the object
 * that parks takes back what the device used first (QueueBase.onPark), so what the ring still owns
 * afterwards is what the device never used. A plain close leaves 0 or 1 there: nothing is taken back.
 */
export const PARK_ASKED = 2;
/**
 * u32: the run in which a queue object that had driven the queue detached (0 = none). The ring's
 * positions (used position, free list, what is posted where) were that object's own and left
 * with it, so no other object takes the queue over in that run: a new attach is refused until
 * the port restarts (a new run starts from the state the main thread leaves). QueueBase.detach.
 */
export const Q_LEFT_RUN = Q_PARKED + 4;
/**
 * u32: byte address of the transport's kick-fd word pair for this queue (0 = none: the device
 * thread's doorbell is the kick, the built-in device). A vhost-user transport (kickFdAddr) keeps
 * there [kick eventfd or -1, in-flight count]: the lcore writes the eventfd itself (QueueBase.kick).
 */
export const Q_KICK_FD = Q_LEFT_RUN + 4;
/**
 * u32: the split TX ring's avail.idx as of the lcore's last fenced kick check (QueueBase.publishTx:
 * on x86 avail.idx is stored plainly and the suppression fields checked behind a full barrier only
 * every TX_FENCE_FRAMES frames, at txFence() and at a kick). The main thread's backstop
 * (txKickBackstop) kicks when avail.idx has moved past it and the device asks for a kick.
 */
export const Q_FENCED_AVAIL = Q_KICK_FD + 4;
/**
 * u32, packed TX rings only: the driver's avail position as of the lcore's last fenced kick check
 * or kick, as ring position | wrap counter << 15 (the off_wrap format of virtio 1.2 §2.8.10).
 * PackedTxQueue.publish on x86 makes descriptors available with a plain store of the head's flags
 * and checks the device event suppression structure behind a full barrier only every
 * TX_FENCE_FRAMES descriptors, at txFence() and at a kick; this word and Q_PACKED_PUBLISHED are
 * what the main thread's backstop (txKickBackstop) reads instead of an avail index the packed ring
 * does not have. Only the lcore writes either (plain stores; the line's other words are cold).
 */
export const Q_PACKED_FENCED = Q_FENCED_AVAIL + 4;
/**
 * u32, packed TX rings only: the driver's avail position (pos | wrap << 15) after the lcore's last
 * publish, stored plainly after the burst's head flags (x86-TSO keeps it after them: a thread that
 * sees it sees the descriptors available). It differs from Q_PACKED_FENCED while a range is unfenced;
 * txKickBackstop then kicks when the device asks for a kick over that range.
 */
export const Q_PACKED_PUBLISHED = Q_PACKED_FENCED + 4;
export const Q_HEADER_BYTES = 512;

export const QF_IN_ORDER = 1;
export const QF_EVENT_IDX = 2;
export const QF_MRG_RXBUF = 4;
export const QF_INDIRECT = 8;
/** VERSION_1 or ANY_LAYOUT: header and data may share a descriptor (push path). */
export const QF_ANY_LAYOUT = 16;
/** VIRTIO_F_RING_PACKED: the queue is a packed ring (Q_DESC ring, Q_AVAIL driver / Q_USED device event suppression). */
export const QF_PACKED = 32;

// --- statistics slots (Float64 index within the stats block) ---
export const S_PACKETS = 0;
export const S_BYTES = 1;
export const S_ERRORS = 2;
export const S_MULTICAST = 3;
export const S_BROADCAST = 4;
/** 8 size bins: <64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, >=1519. */
export const S_SIZE_BINS = 5;
export const S_KICKS = 13;
export const S_NOMBUF = 14;
export const S_RUNTS = 15;
export const S_TRUNCATED = 16;
export const S_BAD_USED_ID = 17;
export const S_BAD_USED_LEN = 18;
export const S_BAD_USED_IDX = 19;
export const S_TX_PUSH = 20;
export const S_TX_INDIRECT = 21;
export const S_TX_CHAINED = 22;
export const S_INTERRUPTS = 23;
export const S_BAD_NUM_BUFFERS = 24;
export const S_TX_FULL = 25;
/** TX: frames longer than P_MAX_FRAME, freed untransmitted (also in S_ERRORS). */
export const S_TX_OVERSIZE = 26;
/**
 * Frames a ring reset under a running port dropped (a packed ring's vhost-user back-end died and a
 * new one came: PortQueues.resetRings; xstat rx_qN_ / tx_qN_reset_dropped_packets).
 * TX: frames the caller handed over (counted in good_packets) that the old device never used,
 * freed and counted by the main thread (the lcore is parked then).
 * RX: frames the old device wrote and made used that the app never received, freed and counted by
 * the queue's object as it parks (QueueBase.onPark; the main thread does not write RX's slot).
 * Every other slot is the lcore's.
 */
export const S_RESET_DROPPED = 27;

/** Indirect table entries per TX slot (DPDK's VIRTIO_MAX_TX_INDIRECT): header + up to 7 segments. */
export const TX_INDIRECT_MAX = 8;
export const TX_REGION_HDR = 0;
export const TX_REGION_TABLE = 16;
export const TX_REGION = TX_REGION_TABLE + 16 * TX_INDIRECT_MAX;

export interface QueueZoneLayout {
  readonly ring: number;
  readonly owner: number;
  readonly txRegion: number;
  readonly bytes: number;
}

/** Offsets within a queue zone for queue size `q`. */
export function queueZoneLayout(q: number, tx: boolean, packed = false): QueueZoneLayout {
  const ringLayout = packed ? packedRingLayout(q) : splitRingLayout(q);
  const ring = Q_HEADER_BYTES;
  const owner = align64(ring + ringLayout.totalBytes);
  const txRegion = align64(owner + 4 * q);
  const bytes = tx ? txRegion + TX_REGION * q : txRegion;
  return { ring, owner, txRegion: tx ? txRegion : 0, bytes };
}

export function queueZoneName(port: number, tx: boolean, q: number, size: number, packed = false): string {
  return `vpmd${port}.${tx ? "tx" : "rx"}q${q}.${size}${packed ? "p" : ""}`;
}

function align64(n: number): number {
  return (n + 63) & ~63;
}

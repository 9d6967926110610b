import type { Memory } from "@tpdk/eal";
import { type Mbufs, type Mempool, PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  DESC_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  PACKED_EVENT_FLAGS,
  RING_EVENT_FLAGS_DISABLE,
  VRING_PACKED_DESC_F_AVAIL,
  packedRingLayout,
  splitRingLayout,
  usedEventOffset,
} from "@tpdk/virtio";
import {
  QF_EVENT_IDX,
  QF_IN_ORDER,
  QF_PACKED,
  Q_AVAIL,
  Q_CLAIM,
  Q_DESC,
  Q_DOORBELL,
  Q_FLAGS,
  Q_GEN,
  Q_HDR_SIZE,
  Q_INTERRUPT,
  PARK_ASKED,
  Q_OWNER,
  Q_PARKED,
  Q_PORT,
  Q_QUEUE,
  Q_RUN,
  Q_RUN_RETIRED,
  Q_SIZE,
  Q_START_AVAIL,
  Q_TX_MODE,
  Q_TX_REGION,
  Q_USED,
  Q_VQ,
  TX_INDIRECT_MAX,
  TX_REGION,
  TX_REGION_HDR,
  TX_REGION_TABLE,
  queueZoneLayout,
  queueZoneName,
} from "./layout.js";

/**
 * A queue's zone across its life, main thread only (cold): reserve, header,
 * ring reset at each start, RX fill, open to the lcores, release at stop.
 */


/**
 * Reserve (or reuse) the queue's zone; `prev`, the zone the queue used before (0 = none), is
 * retired when it is another one (another size).
 */
export function reserveQueueZone(mem: Memory, prev: number, portId: number, tx: boolean, q: number, size: number, packed = false): number {
  const zname = queueZoneName(portId, tx, q, size, packed);
  const existing = mem.lookup(zname);
  const zone = existing ? existing.offset : mem.reserve(zname, queueZoneLayout(size, tx, packed).bytes, 4096).offset;
  if (prev !== 0 && prev !== zone) Atomics.store(mem.u32, (prev + Q_RUN) >>> 2, Q_RUN_RETIRED);
  return zone;
}

export interface QueueHeader {
  vq: number;
  portId: number;
  queue: number;
  size: number;
  tx: boolean;
  /** QF_* */
  flags: number;
  hdrSize: number;
  /** TXM_* */
  txMode: number;
  doorbell: number;
  interrupt: number;
}

/** Zero the zone (keeping its run generation counter) and write the header. */
export function writeQueueHeader(mem: Memory, zone: number, h: QueueHeader): void {
  const { u32, u8 } = mem;
  const packed = (h.flags & QF_PACKED) !== 0;
  const layout = queueZoneLayout(h.size, h.tx, packed);
  const ring = packed ? packedAsSplit(h.size) : splitRingLayout(h.size);
  // The generation survives so an lcore never mistakes a new run for an old one.
  const gen = u32[(zone + Q_GEN) >>> 2]!;
  u8.fill(0, zone, zone + layout.bytes);
  const w = zone >>> 2;
  u32[w + (Q_GEN >>> 2)] = gen;
  u32[w + (Q_SIZE >>> 2)] = h.size;
  u32[w + (Q_VQ >>> 2)] = h.vq;
  u32[w + (Q_FLAGS >>> 2)] = h.flags;
  u32[w + (Q_HDR_SIZE >>> 2)] = h.hdrSize;
  u32[w + (Q_DESC >>> 2)] = zone + layout.ring + ring.desc;
  u32[w + (Q_AVAIL >>> 2)] = zone + layout.ring + ring.avail;
  u32[w + (Q_USED >>> 2)] = zone + layout.ring + ring.used;
  u32[w + (Q_OWNER >>> 2)] = zone + layout.owner;
  u32[w + (Q_TX_REGION >>> 2)] = h.tx ? zone + layout.txRegion : 0;
  u32[w + (Q_PORT >>> 2)] = h.portId;
  u32[w + (Q_QUEUE >>> 2)] = h.queue;
  u32[w + (Q_TX_MODE >>> 2)] = h.txMode;
  u32[w + (Q_DOORBELL >>> 2)] = h.doorbell;
  u32[w + (Q_INTERRUPT >>> 2)] = h.interrupt;
}

/** A packed ring's parts under the split names the header uses: avail = driver event suppression, used = device's. */
function packedAsSplit(size: number): { desc: number; avail: number; used: number; totalBytes: number } {
  const p = packedRingLayout(size);
  return { desc: p.desc, avail: p.driverEvent, used: p.deviceEvent, totalBytes: p.totalBytes };
}

/**
 * Reinitialise the ring memory for a (re)start: after a stop the device was
 * reset and the ring starts over at index 0. Poll mode: NO_INTERRUPT.
 */
export function resetRing(mem: Memory, zone: number, tx: boolean): void {
  const { u8, u16, u32 } = mem;
  const w = zone >>> 2;
  const size = u32[w + (Q_SIZE >>> 2)]!;
  const desc = u32[w + (Q_DESC >>> 2)]!;
  const avail = u32[w + (Q_AVAIL >>> 2)]!;
  const owner = u32[w + (Q_OWNER >>> 2)]!;
  if ((u32[w + (Q_FLAGS >>> 2)]! & QF_PACKED) !== 0) {
    // §2.8: the descriptor ring starts zeroed (no descriptor available: the wrap counters start at 1).
    // Pure poll mode: the driver event suppression structure says DISABLE (PackedRxQueue.enableInterrupt changes it).
    u8.fill(0, desc, desc + packedRingLayout(size).totalBytes);
    u32.fill(0, owner >>> 2, (owner >>> 2) + size);
    u16[(avail + PACKED_EVENT_FLAGS) >>> 1] = RING_EVENT_FLAGS_DISABLE;
    if (tx) initTxRegions(mem, zone, size, u32[w + (Q_HDR_SIZE >>> 2)]!, true);
    return;
  }
  u8.fill(0, desc, desc + splitRingLayout(size).totalBytes);
  u32.fill(0, owner >>> 2, (owner >>> 2) + size);
  // Pure poll mode: no used-buffer interrupts (RxQueue.enableInterrupt changes this). Under
  // EVENT_IDX the driver MUST leave the flags 0 (§2.7.7) and says it with used_event instead:
  // just behind index 0 means "not before 65536 more".
  const eventIdx = (u32[w + (Q_FLAGS >>> 2)]! & QF_EVENT_IDX) !== 0;
  u16[(avail + AVAIL_FLAGS) >>> 1] = eventIdx ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
  u16[(avail + usedEventOffset(size)) >>> 1] = 0xffff;
  if (u32[w + (Q_FLAGS >>> 2)]! & QF_IN_ORDER) {
    // In order, descriptor i sits in ring slot i: the avail ring is written once, here.
    for (let i = 0; i < size; i++) u16[(avail + AVAIL_RING + 2 * i) >>> 1] = i;
  }
  if (tx) initTxRegions(mem, zone, size, u32[w + (Q_HDR_SIZE >>> 2)]!);
}

/** Per-slot regions: zero header; indirect table entry 0 -> that header; next links fixed. Written once. */
function initTxRegions(mem: Memory, zone: number, size: number, hdrSize: number, packed = false): void {
  const { u8, u16, u32 } = mem;
  const region = u32[(zone + Q_TX_REGION) >>> 2]!;
  u8.fill(0, region, region + TX_REGION * size);
  for (let i = 0; i < size; i++) {
    const r = region + i * TX_REGION;
    const table = r + TX_REGION_TABLE;
    u32[table >>> 2] = r + TX_REGION_HDR;
    u32[(table + 8) >>> 2] = hdrSize;
    // A packed table is read in order (§2.8.7: only WRITE counts there): no NEXT, no links.
    if (packed) continue;
    u16[(table + 12) >>> 1] = VRING_DESC_F_NEXT;
    for (let k = 0; k < TX_INDIRECT_MAX; k++) u16[(table + DESC_SIZE * k + 14) >>> 1] = k + 1 < TX_INDIRECT_MAX ? k + 1 : 0;
  }
}

/**
 * Post every RX descriptor with a fresh mbuf (DPDK's rx queue start): addr =
 * buf + headroom - hdr, len = buf_len - headroom + hdr, WRITE. Fewer when
 * the pool runs dry. Returns how many were posted.
 */
export function fillRx(mem: Memory, mbufs: Mbufs, zone: number, pool: Mempool): number {
  const { u16, u32 } = mem;
  const w = zone >>> 2;
  if ((u32[w + (Q_FLAGS >>> 2)]! & QF_PACKED) !== 0) return fillRxPacked(mem, mbufs, zone, pool);
  const size = u32[w + (Q_SIZE >>> 2)]!;
  const desc = u32[w + (Q_DESC >>> 2)]!;
  const avail = u32[w + (Q_AVAIL >>> 2)]!;
  const owner = u32[w + (Q_OWNER >>> 2)]! >>> 2;
  const hdr = u32[w + (Q_HDR_SIZE >>> 2)]!;
  let n = 0;
  for (; n < size; n++) {
    const m = pool.alloc();
    if (m === 0) break;
    const d = desc + DESC_SIZE * n;
    u32[d >>> 2] = mbufs.bufAddr(m) + PKTMBUF_HEADROOM - hdr;
    u32[(d + 4) >>> 2] = 0;
    u32[(d + 8) >>> 2] = mbufs.bufLen(m) - PKTMBUF_HEADROOM + hdr;
    u16[(d + 12) >>> 1] = VRING_DESC_F_WRITE;
    u16[(d + 14) >>> 1] = 0;
    u32[owner + n] = m;
    u16[(avail + AVAIL_RING + 2 * n) >>> 1] = n;
  }
  u32[w + (Q_START_AVAIL >>> 2)] = n;
  // Publishes the descriptors and ring entries above to the device.
  Atomics.store(u16, (avail + AVAIL_IDX) >>> 1, n);
  return n;
}

/**
 * fillRx for a packed ring: descriptor i holds buffer id i (WRITE), made
 * available with the driver wrap counter's initial 1 (§2.8.1); descriptor 0's
 * flags are stored last, so the device sees none before all (§2.8.6). The
 * lcore's PackedRxQueue continues from position n (wrap flipped when n = size).
 */
function fillRxPacked(mem: Memory, mbufs: Mbufs, zone: number, pool: Mempool): number {
  const { u16, u32 } = mem;
  const w = zone >>> 2;
  const size = u32[w + (Q_SIZE >>> 2)]!;
  const desc = u32[w + (Q_DESC >>> 2)]!;
  const owner = u32[w + (Q_OWNER >>> 2)]! >>> 2;
  const hdr = u32[w + (Q_HDR_SIZE >>> 2)]!;
  let n = 0;
  for (; n < size; n++) {
    const m = pool.alloc();
    if (m === 0) break;
    const d = desc + DESC_SIZE * n;
    u32[d >>> 2] = mbufs.bufAddr(m) + PKTMBUF_HEADROOM - hdr;
    u32[(d + 4) >>> 2] = 0;
    u32[(d + 8) >>> 2] = mbufs.bufLen(m) - PKTMBUF_HEADROOM + hdr;
    u16[(d + 12) >>> 1] = n;
    if (n !== 0) u16[(d + 14) >>> 1] = VRING_DESC_F_WRITE | VRING_PACKED_DESC_F_AVAIL;
    u32[owner + n] = m;
  }
  u32[w + (Q_START_AVAIL >>> 2)] = n;
  // Pairs with the device's Atomics.load of descriptor 0's flags: publishes every descriptor above.
  if (n !== 0) Atomics.store(u16, (desc + 14) >>> 1, VRING_DESC_F_WRITE | VRING_PACKED_DESC_F_AVAIL);
  return n;
}

/** Open the queue to the lcores: a new run generation. */
export function openQueue(mem: Memory, zone: number): void {
  const u32 = mem.u32;
  let gen = (u32[(zone + Q_GEN) >>> 2]! + 1) >>> 0;
  if (gen === 0 || gen === Q_RUN_RETIRED) gen = 1;
  u32[(zone + Q_GEN) >>> 2] = gen;
  // Pairs with the lcore's read of Q_RUN at the top of each burst (and its Atomics.load in resync).
  Atomics.store(u32, (zone + Q_RUN) >>> 2, gen);
}

/** Close it: lcores' bursts return 0 from now on, and every claim is gone (the next run's objects claim again). */
export function closeQueue(mem: Memory, zone: number): void {
  Atomics.store(mem.u32, (zone + Q_RUN) >>> 2, 0);
  Atomics.store(mem.u32, (zone + Q_CLAIM) >>> 2, 0);
}

/**
 * Close a running queue whose ring the main thread will reset under the lcores: the parked word
 * set to PARK_ASKED first, then the run word 0 (Atomics.store both, in this order: a queue object that sets
 * parked afterwards read run 0 after this store, so it is out of every burst of the old run).
 * Returns the claim word: 0 when no queue object drove the queue in this run (none to wait for).
 */
export function parkQueue(mem: Memory, zone: number): number {
  Atomics.store(mem.u32, (zone + Q_PARKED) >>> 2, PARK_ASKED);
  Atomics.store(mem.u32, (zone + Q_RUN) >>> 2, 0);
  return Atomics.load(mem.u32, (zone + Q_CLAIM) >>> 2);
}

/** Has a queue object seen the queue closed since parkQueue (pairs with QueueBase.resync's Atomics.store)? */
export function queueParked(mem: Memory, zone: number): boolean {
  return Atomics.load(mem.u32, (zone + Q_PARKED) >>> 2) === 1;
}

/** The reset is over: a queue object that parks from now on (a plain close) takes nothing back. */
export function unparkQueue(mem: Memory, zone: number): void {
  Atomics.store(mem.u32, (zone + Q_PARKED) >>> 2, 0);
}

/** After the device reset: free whatever mbufs the queue's descriptors still own (each exactly once). Returns how many. */
export function releaseQueue(mem: Memory, mbufs: Mbufs, zone: number): number {
  const u32 = mem.u32;
  const size = u32[(zone + Q_SIZE) >>> 2]!;
  const owner = u32[(zone + Q_OWNER) >>> 2]! >>> 2;
  let n = 0;
  for (let i = 0; i < size; i++) {
    const m = u32[owner + i]!;
    if (m !== 0) {
      u32[owner + i] = 0;
      mbufs.free(m);
      n++;
    }
  }
  return n;
}

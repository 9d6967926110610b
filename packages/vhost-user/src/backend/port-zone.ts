import type { Memory } from "@tpdk/eal";
import { COUNT_SLOTS } from "./guest-queue.js";
import { RING_BYTES, RingWords } from "./ring-control.js";

/**
 * A net_vhost port's memzone in EAL memory ("netvhost.<port>"): what the
 * main thread (control path) and the lcores (data path) share.
 *
 *   header (128 B): MAGIC, PAIRS, the RX queues' mempool ids
 *   per ring (2 × pairs): statistics (32 f64: the walk's error counts, then the burst's)
 *   per ring: its RingWords (state, handshake, configuration, the memory table's ranges)
 *
 * Ring 2q is the front-end's RX (our TX queue q), ring 2q+1 its TX (our RX queue q).
 * Counters have one writer each: the lcore polling that queue.
 */

export const ZONE_PREFIX = "netvhost.";
const MAGIC = 0x6e76686f; // "nvho"
const H_MAGIC = 0;
const H_PAIRS = 1;
const H_POOL = 2;
/** Tokens for queue objects (claims), never 0. */
const H_SEQ = 24;
const HEADER_BYTES = 128;
const STATS_F64 = 32;
/** Within a ring's statistics: the burst's counters start here (the walk's counts first). */
export const BURST_STATS = 16;

export class PortZone {
  readonly offset: number;
  readonly pairs: number;
  private readonly i32: Int32Array;

  private constructor(private readonly mem: Memory, offset: number) {
    this.offset = offset;
    this.i32 = new Int32Array(mem.sab, offset, HEADER_BYTES / 4);
    this.pairs = this.i32[H_PAIRS]!;
  }

  static create(mem: Memory, portId: number, pairs: number): PortZone {
    const rings = 2 * pairs;
    const z = mem.reserve(`${ZONE_PREFIX}${portId}`, HEADER_BYTES + rings * (STATS_F64 * 8 + RING_BYTES), 64);
    const h = new Int32Array(mem.sab, z.offset, HEADER_BYTES / 4);
    h[H_PAIRS] = pairs;
    h.fill(-1, H_POOL, H_POOL + pairs);
    Atomics.store(h, H_MAGIC, MAGIC);
    return new PortZone(mem, z.offset);
  }

  /** The port's zone, or null when `portId` is not a net_vhost port (cold: queue attach). */
  static lookup(mem: Memory, portId: number): PortZone | null {
    const z = mem.lookup(`${ZONE_PREFIX}${portId}`);
    if (!z) return null;
    if (Atomics.load(new Int32Array(mem.sab, z.offset, 1), 0) !== MAGIC) return null;
    return new PortZone(mem, z.offset);
  }

  setPool(queue: number, poolId: number): void {
    Atomics.store(this.i32, H_POOL + queue, poolId);
  }

  /** A token no other queue object of this port has. */
  nextToken(): number {
    let t = (Atomics.add(this.i32, H_SEQ, 1) + 1) | 0;
    if (t === 0) t = (Atomics.add(this.i32, H_SEQ, 1) + 1) | 0;
    return t;
  }

  pool(queue: number): number {
    return Atomics.load(this.i32, H_POOL + queue);
  }

  ringWords(ring: number): RingWords {
    return new RingWords(this.mem.sab, this.offset + HEADER_BYTES + 2 * this.pairs * STATS_F64 * 8 + ring * RING_BYTES);
  }

  /** The walk's error counts of `ring` ([E_*], [ERROR_KINDS] calls, [SETUP_FAILED]: guest-queue.ts). */
  counts(ring: number): Float64Array {
    return new Float64Array(this.mem.sab, this.offset + HEADER_BYTES + ring * STATS_F64 * 8, COUNT_SLOTS);
  }

  /** The burst's counters of `ring` (RX: packets, bytes, dropped; TX: packets, bytes, ring full, bad chains). */
  burstStats(ring: number): Float64Array {
    return new Float64Array(this.mem.sab, this.offset + HEADER_BYTES + ring * STATS_F64 * 8 + BURST_STATS * 8, 4);
  }
}

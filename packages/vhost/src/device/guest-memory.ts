/**
 * The device core's seam to the driver's memory: where the rings and buffers
 * live (one SharedArrayBuffer, through views made once) and how an address
 * the driver wrote in a descriptor becomes an offset in it, with bounds.
 *
 *   built-in transport (register traps):  identity(mem, lo, hi): one region,
 *       driver address = offset in EAL memory, [lo, hi) = the EAL zones
 *   net_vhost (vhost-user SET_MEM_TABLE): regions(sab, table): up to 8
 *       regions of guest physical addresses, each a range of the mapping
 *
 * The queues (virtqueue.ts, packed-virtqueue.ts) copy one region, the fast
 * one, into plain number fields of their own and check it inline on the
 * descriptor's two 32-bit halves (high half equal, low half in range, one
 * add: integer operations, the same for both transports, so their walk
 * stays monomorphic and allocation-free); only an address outside it calls
 * translate(), which tries every region. The fast region is the first that
 * does not cross a 4 GiB boundary (the built-in transport's only region;
 * DPDK's one memfd region; QEMU's first). An
 * address range [addr, addr + len) that is not wholly inside one region
 * (crossing a region's end, or in none) translates to -1: the walk counts it
 * as an error on the queue and never touches it.
 *
 * Addresses are numbers below 2^53 (a descriptor's 64-bit address read as
 * hi * 2^32 + lo); offsets are below 2^32 (typed-array indices).
 */

const TWO_32 = 0x1_0000_0000;
/** Per region in `ranges`: driver address [lo, hi), and delta = offset - lo. */
const R_LO = 0;
const R_HI = 1;
const R_DELTA = 2;
const R_FIELDS = 3;
/** At most this many regions (vhost-user's VHOST_MEMORY_BASELINE_NREGIONS). */
export const GUEST_MAX_REGIONS = 8;

/** One region: driver addresses [addr, addr + size) are the bytes at [offset, offset + size) of the buffer. */
export interface GuestRegion {
  readonly addr: number;
  readonly size: number;
  readonly offset: number;
}

/** Views of one SharedArrayBuffer, as EAL's Memory has them. */
export interface GuestViews {
  readonly u8: Uint8Array<ArrayBufferLike>;
  readonly u16: Uint16Array<ArrayBufferLike>;
  readonly u32: Uint32Array<ArrayBufferLike>;
}

/**
 * `x` (an integer) as a small integer when it fits in 31 bits. `%` and `/` by
 * TWO_32 (not a small integer) yield heap numbers even for small results; the
 * queues copy these fields, so a heap number here makes their fields doubles
 * and every buffer offset computed from them a float (simpleAddr, the wires'
 * copies): 15-18 % of the built-in pipeline (bench/notes/split-front-end.md "Speed: where the
 * front-end's time goes").
 */
function small(x: number): number {
  return x >= -0x4000_0000 && x < 0x4000_0000 ? x | 0 : x;
}

export class GuestMemory implements GuestViews {
  readonly u8: Uint8Array<ArrayBufferLike>;
  readonly u16: Uint16Array<ArrayBufferLike>;
  readonly u32: Uint32Array<ArrayBufferLike>;
  /**
   * The fast region, for the queues' inline check: a descriptor address with
   * high half fastHi and low half in [fastLo, fastEnd) (len included) is at
   * offset low + fastDelta. fastHi -1: no fast region (everything translates).
   */
  readonly fastHi: number;
  readonly fastLo: number;
  readonly fastEnd: number;
  readonly fastDelta: number;
  readonly n: number;
  /** Every region lies below 4 GiB: an address with a non-zero high half is outside by construction (counted as such). */
  readonly below4G: boolean;
  private readonly ranges: Float64Array;

  private constructor(v: GuestViews, regions: readonly GuestRegion[]) {
    this.u8 = v.u8;
    this.u16 = v.u16;
    this.u32 = v.u32;
    this.n = regions.length;
    this.ranges = new Float64Array(GUEST_MAX_REGIONS * R_FIELDS);
    let below = true;
    let fast = -1;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      const o = i * R_FIELDS;
      this.ranges[o + R_LO] = r.addr;
      this.ranges[o + R_HI] = r.addr + r.size;
      this.ranges[o + R_DELTA] = r.offset - r.addr;
      if (r.addr + r.size > TWO_32) below = false;
      if (fast < 0 && Math.floor(r.addr / TWO_32) === Math.floor((r.addr + r.size - 1) / TWO_32)) fast = i;
    }
    this.below4G = below;
    if (fast < 0) {
      // No region, or each crosses a 4 GiB boundary: nothing matches inline.
      this.fastHi = -1;
      this.fastLo = this.fastEnd = this.fastDelta = 0;
    } else {
      const r = regions[fast]!;
      const lo = r.addr % TWO_32;
      this.fastHi = small(Math.floor(r.addr / TWO_32));
      this.fastLo = small(lo);
      this.fastEnd = small(lo + r.size);
      this.fastDelta = small(r.offset - lo);
    }
  }

  /**
   * The built-in transport: the driver's addresses are offsets in `mem` (its
   * bus address is the offset), valid in [lo, hi). Cold.
   */
  static identity(mem: GuestViews, lo: number, hi: number): GuestMemory {
    return new GuestMemory(mem, [{ addr: lo, size: hi - lo, offset: lo }]);
  }

  /**
   * A region table over one mapping (net_vhost). The caller has checked the
   * table (no overlap, every region inside the mapping, offsets + sizes
   * below 2^32); this only refuses more than GUEST_MAX_REGIONS, a region
   * outside `views`, or one past 2^53. Cold.
   */
  static regions(views: GuestViews, regions: readonly GuestRegion[]): GuestMemory {
    if (regions.length > GUEST_MAX_REGIONS) throw new RangeError(`${regions.length} regions: at most ${GUEST_MAX_REGIONS}`);
    for (const r of regions) {
      if (r.offset < 0 || r.size <= 0 || r.offset + r.size > views.u8.length || r.addr + r.size > 2 ** 53) {
        throw new RangeError(`region at 0x${r.addr.toString(16)} (+0x${r.size.toString(16)}) lies outside the mapping`);
      }
    }
    return new GuestMemory(views, regions);
  }

  /** No memory at all (a queue before its transport gave it any): nothing translates. */
  static empty(): GuestMemory {
    return new GuestMemory({ u8: new Uint8Array(0), u16: new Uint16Array(0), u32: new Uint32Array(0) }, []);
  }

  /**
   * [addr, addr + len) as an offset in the buffer, or -1 when it is not
   * wholly inside one region. len 0 is checked as len 1 (its address must
   * still be in a region). Allocation-free: the queues call it for any
   * address outside region 0.
   */
  translate(addr: number, len: number): number {
    const end = addr + (len === 0 ? 1 : len);
    const r = this.ranges;
    for (let i = 0, o = 0; i < this.n; i++, o += R_FIELDS) {
      if (addr >= r[o + R_LO]! && end <= r[o + R_HI]!) return addr + r[o + R_DELTA]!;
    }
    return -1;
  }
}

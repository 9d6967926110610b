import type { Memory } from "@tpdk/eal";
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  availEventOffset,
  splitRingLayout,
  usedEventOffset,
} from "@tpdk/virtio";

/**
 * The driver's half of a split virtqueue, built by hand for device tests:
 * the test writes descriptors and avail entries exactly as it likes
 * (well-formed or hostile) and reads what the device returned.
 */
export class DriverRing {
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** The driver's shadow of avail.idx (published by publish()). */
  availIdx = 0;
  private readonly mem: Memory;

  constructor(mem: Memory, zoneName: string, size: number) {
    this.mem = mem;
    this.size = size;
    const l = splitRingLayout(size);
    const z = mem.reserve(zoneName, l.totalBytes, 64);
    this.desc = z.offset + l.desc;
    this.avail = z.offset + l.avail;
    this.used = z.offset + l.used;
  }

  setDesc(i: number, addr: number, len: number, flags = 0, next = 0, addrHi = 0): void {
    writeDesc(this.mem, this.desc + 16 * i, addr, len, flags, next, addrHi);
  }

  /** Put `head` in the next avail slot (not yet visible: see publish()). */
  add(head: number): void {
    this.mem.u16[(this.avail + AVAIL_RING + 2 * (this.availIdx % this.size)) >>> 1] = head;
    this.availIdx = (this.availIdx + 1) & 0xffff;
  }

  /** Make everything added visible: one Atomics.store of avail.idx. */
  publish(): void {
    Atomics.store(this.mem.u16, (this.avail + AVAIL_IDX) >>> 1, this.availIdx);
  }

  /** Store any value as avail.idx (hostile tests). */
  setAvailIdx(v: number): void {
    this.availIdx = v & 0xffff;
    this.publish();
  }

  setAvailFlags(f: number): void {
    Atomics.store(this.mem.u16, (this.avail + AVAIL_FLAGS) >>> 1, f);
  }

  setUsedEvent(v: number): void {
    Atomics.store(this.mem.u16, (this.avail + usedEventOffset(this.size)) >>> 1, v & 0xffff);
  }

  usedIdx(): number {
    return Atomics.load(this.mem.u16, (this.used + USED_IDX) >>> 1);
  }

  usedFlags(): number {
    return Atomics.load(this.mem.u16, (this.used + USED_FLAGS) >>> 1);
  }

  availEvent(): number {
    return Atomics.load(this.mem.u16, (this.used + availEventOffset(this.size)) >>> 1);
  }

  /** Used entry at free-running position i. */
  usedElem(i: number): { id: number; len: number } {
    const e = (this.used + USED_RING + 8 * (i % this.size)) >>> 2;
    return { id: this.mem.u32[e]!, len: this.mem.u32[e + 1]! };
  }
}

/** A bump allocator over one zone, for test buffers and indirect tables. */
/** One split-ring descriptor (virtio 1.2 §2.7.5: addr u64, len u32, flags u16, next u16) at byte offset `at`. */
export function writeDesc(mem: Memory, at: number, addr: number, len: number, flags = 0, next = 0, addrHi = 0): void {
  mem.u32[at >>> 2] = addr;
  mem.u32[(at >>> 2) + 1] = addrHi;
  mem.u32[(at >>> 2) + 2] = len;
  mem.u16[(at + 12) >>> 1] = flags;
  mem.u16[(at + 14) >>> 1] = next;
}

/** An indirect descriptor table (§2.7.5.3) at `at`: entries [addr, len, flags, next], any values (hostile tests). */
export function writeDescTable(mem: Memory, at: number, entries: readonly (readonly [number, number, number, number])[]): void {
  entries.forEach(([addr, len, flags, next], i) => writeDesc(mem, at + 16 * i, addr, len, flags, next));
}

export class Arena {
  readonly base: number;
  readonly end: number;
  private next: number;
  constructor(mem: Memory, zoneName: string, bytes: number) {
    const z = mem.reserve(zoneName, bytes, 64);
    this.base = z.offset;
    this.end = z.offset + bytes;
    this.next = z.offset;
  }
  alloc(bytes: number, align = 16): number {
    const a = (this.next + align - 1) & ~(align - 1);
    if (a + bytes > this.end) throw new RangeError("test arena exhausted");
    this.next = a + bytes;
    return a;
  }
  reset(): void {
    this.next = this.base;
  }
}

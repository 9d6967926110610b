/**
 * fast-check generators for hostile driver-written rings, and the helpers
 * that lay them out in memory and say where the device may write. Shared by
 * the property test (src/property.test.ts) and the long fuzz run
 * (scripts/src/hostile-fuzz.ts). Test-only: imports fast-check (a dev
 * dependency), so it is not exported from ./index.ts; import this file by path.
 */
import * as fc from "fast-check";
import type { Memory } from "@tpdk/eal";
import * as v from "@tpdk/virtio";
import type { DriverRing } from "./driver-ring.js";
import type { Fixture } from "./fixture.js";

/** Bytes of the data area descriptors point into. */
export const DATA_BYTES = 64 << 10;
/** Bytes per indirect table slot (8 descriptors). */
export const TABLE_SLOT = 16 * 8;

export interface DescSpec {
  /** Where the address points: 0-3 the data area (3: aligned), 4 a table, 5 the end of memory, 6 the EAL header, 7 far outside, 8 straddling the data area's end, 9 a tiny address. */
  where: number;
  off: number;
  len: number;
  flags: number;
  next: number;
  hi: number;
}

export const descArb: fc.Arbitrary<DescSpec> = fc.record({
  where: fc.nat(9),
  off: fc.nat(0xffff),
  len: fc.oneof(
    { weight: 3, arbitrary: fc.nat(2100) },
    { weight: 2, arbitrary: fc.constantFrom(12, 16, 72, 1526, 2048) },
    { weight: 1, arbitrary: fc.nat(80) },
    { weight: 1, arbitrary: fc.constantFrom(0, 0xffffffff) },
    { weight: 1, arbitrary: fc.nat(0xffffffff) },
  ),
  flags: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0, v.VRING_DESC_F_WRITE, v.VRING_DESC_F_NEXT, v.VRING_DESC_F_NEXT | v.VRING_DESC_F_WRITE) },
    { weight: 3, arbitrary: fc.nat(7) },
    { weight: 1, arbitrary: fc.nat(0xffff) },
  ),
  next: fc.nat(20),
  hi: fc.oneof({ weight: 15, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0xffffffff) }),
});

/** An avail ring entry: mostly a head inside the queue (taken mod size), rarely one beyond it. */
export const headArb = fc.oneof({ weight: 30, arbitrary: fc.nat(15) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 18 }) });
/** avail.idx: mostly what the entries imply (null), rarely anything. */
export const idxArb = fc.oneof({ weight: 15, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(0xffff) });

/** Where a scenario's descriptors live: the fixture, a data area and indirect tables. */
export interface RingWorld {
  f: Fixture;
  data: number;
  tables: number[];
  tableLens: number[];
}

/** Reserve the data area and `tableLens.length` indirect table slots in the fixture's arena. */
export function ringWorld(f: Fixture, tableLens: number[]): RingWorld {
  const tables = tableLens.map(() => f.arena.alloc(TABLE_SLOT, 16));
  const data = f.arena.alloc(DATA_BYTES + 4096, 64);
  return { f, data, tables, tableLens };
}

export function addrOf(w: RingWorld, d: DescSpec, size: number): number {
  const memSize = w.f.mem.size;
  switch (d.where) {
    case 0:
    case 1:
    case 2:
      return w.data + (d.off % DATA_BYTES); // inside the data area (may run past it: len is random)
    case 3:
      return w.data + ((d.off * 16) % DATA_BYTES); // aligned
    case 4:
      return w.tables[d.off % w.tables.length]!; // an indirect table (useful with INDIRECT)
    case 5:
      return memSize - (d.off % 512); // near the end of memory
    case 6:
      return d.off % 4096; // the EAL header
    case 7:
      return (0xffff0000 + d.off) >>> 0; // far outside
    case 8:
      return w.data + DATA_BYTES - (d.off % 64); // straddling the data area's end
    default:
      return size; // tiny address
  }
}

export function lenOf(w: RingWorld, d: DescSpec): number {
  if (d.where === 4 && (d.flags & v.VRING_DESC_F_INDIRECT) !== 0 && d.len % 3 !== 0) {
    return 16 * w.tableLens[d.off % w.tables.length]!;
  }
  return d.len;
}

/** Write descriptor `d` at byte address `at` (a ring slot or an indirect table entry). */
export function writeDesc(w: RingWorld, at: number, d: DescSpec, size: number): void {
  const mem = w.f.mem;
  mem.u32[at >>> 2] = addrOf(w, d, size);
  mem.u32[(at >>> 2) + 1] = d.hi;
  mem.u32[(at >>> 2) + 2] = lenOf(w, d);
  mem.u16[(at + 12) >>> 1] = d.flags;
  // Mostly a next inside the queue, sometimes one past it (or past a table).
  mem.u16[(at + 14) >>> 1] = d.next < 18 ? d.next % size : size + d.next - 18;
}

/** Fill [from, to) with xorshift noise from `seed`; returns the next state. */
export function noise(mem: Memory, from: number, to: number, seed: number): number {
  let x = seed | 1;
  for (let i = from; i < to; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    mem.u8[i] = x & 0xff;
  }
  return x;
}

/** The feature choices a scenario draws (VIRTIO_NET_F_MAC is always offered). */
export interface FeatureChoice {
  mrg: boolean;
  eventIdx: boolean;
  inOrder: boolean;
  indirect: boolean;
  version1: boolean;
}

/** The feature bits a scenario's choices stand for. */
export function chosenFeatures(s: FeatureChoice): v.Features {
  const bits = [v.VIRTIO_NET_F_MAC];
  if (s.mrg) bits.push(v.VIRTIO_NET_F_MRG_RXBUF);
  if (s.eventIdx) bits.push(v.VIRTIO_F_EVENT_IDX);
  if (s.inOrder) bits.push(v.VIRTIO_F_IN_ORDER);
  if (s.indirect) bits.push(v.VIRTIO_F_INDIRECT_DESC);
  if (s.version1) bits.push(v.VIRTIO_F_VERSION_1);
  return v.features(...bits);
}

/**
 * Noise (from `seed`) everywhere the driver owns or nobody owns: the arena,
 * 64 KiB past the last zone, the last 4 KiB of memory; then the indirect
 * tables' descriptors over it (queue size `size`).
 */
export function scribble(w: RingWorld, seed: number, tables: DescSpec[][], size: number): void {
  const { f } = w;
  let x = noise(f.mem, f.arena.base, f.arena.end, seed);
  const lastZone = Math.max(...f.mem.zones().map((z) => z.offset + z.length));
  x = noise(f.mem, lastZone, Math.min(f.mem.size, lastZone + (64 << 10)), x);
  noise(f.mem, f.mem.size - 4096, f.mem.size, x);
  tables.forEach((t, i) => t.forEach((d, j) => writeDesc(w, w.tables[i]! + 16 * j, d, size)));
}

/** Set RX and TX rings' avail flags and used_event, then each one's avail.idx: the drawn one, or (null) what the added entries imply. */
export function setAvail(
  rx: DriverRing, tx: DriverRing,
  s: { availFlags: number; usedEvent: number; rxIdx: number | null; txIdx: number | null },
): void {
  rx.setAvailFlags(s.availFlags);
  tx.setAvailFlags(s.availFlags);
  rx.setUsedEvent(s.usedEvent);
  tx.setUsedEvent(s.usedEvent);
  if (s.rxIdx !== null) rx.setAvailIdx(s.rxIdx);
  else rx.publish();
  if (s.txIdx !== null) tx.setAvailIdx(s.txIdx);
  else tx.publish();
}

/** Byte ranges the device may write now: its zones, the used rings, RX device-writable buffers (indirect tables' entries included). */
export function allowedRanges(w: RingWorld): Array<[number, number]> {
  const { f } = w;
  const mem = f.mem;
  const out: Array<[number, number]> = [];
  for (const z of mem.zones()) {
    if (z.name.startsWith("vhost.") || z.name === "test.wire") out.push([z.offset, z.offset + z.length]);
  }
  for (const r of f.rings) out.push([r.used, r.used + 6 + 8 * r.size]);
  const addWritable = (d: number, indirectOk: boolean): void => {
    const addr = mem.u32[d >>> 2]!;
    const hi = mem.u32[(d >>> 2) + 1]!;
    const len = mem.u32[(d >>> 2) + 2]!;
    const flags = mem.u16[(d + 12) >>> 1]!;
    if (hi !== 0) return;
    if ((flags & v.VRING_DESC_F_INDIRECT) !== 0) {
      if (!indirectOk || len % 16 !== 0 || addr % 4 !== 0 || addr + len > mem.size) return;
      for (let j = 0; j < len / 16; j++) addWritable(addr + 16 * j, false);
      return;
    }
    if ((flags & v.VRING_DESC_F_WRITE) !== 0) out.push([addr, addr + len]);
  };
  // Every RX queue's descriptors (queues 0, 2, 4, ...).
  for (let q = 0; q < f.rings.length; q += 2) {
    const rx = f.rings[q]!;
    for (let i = 0; i < rx.size; i++) addWritable(rx.desc + 16 * i, true);
  }
  return out;
}

/** The first byte that differs between `before` and `after` outside `allowed` (sorted or not), or -1. */
export function firstForbiddenWrite(before: Uint8Array, after: Uint8Array, allowed: Array<[number, number]>): number {
  const sorted = allowed.slice().sort((a, b) => a[0] - b[0]);
  let k = 0;
  for (let i = 0; i < after.length; i++) {
    if (after[i] === before[i]) continue;
    while (k < sorted.length && sorted[k]![1] <= i) k++;
    let ok = false;
    for (let j = k; j < sorted.length && sorted[j]![0] <= i; j++) {
      if (i < sorted[j]![1]) {
        ok = true;
        break;
      }
    }
    if (!ok) return i;
  }
  return -1;
}

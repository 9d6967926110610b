/**
 * Packed virtqueues (virtio 1.2 §2.8) from the driver's side, for tests of
 * the device: a hand-driven packed ring, a fixture with RX/TX packed rings
 * negotiated, and random ring contents (fast-check) with the invariants the
 * device must keep. Used by the device's unit tests
 * (packages/vhost/src/device/packed.test.ts) and by `pnpm fuzz`.
 */
import * as fc from "fast-check";
import type { Memory } from "@tpdk/eal";
import * as v from "@tpdk/virtio";
import type { DriverRing } from "./driver-ring.js";
import { type Fixture, deviceFixture, frame } from "./fixture.js";

const W = v.VRING_DESC_F_WRITE;
const N = v.VRING_DESC_F_NEXT;
const I = v.VRING_DESC_F_INDIRECT;
const A = v.VRING_PACKED_DESC_F_AVAIL;
const U = v.VRING_PACKED_DESC_F_USED;

/** The driver's half of a packed ring, by hand. */
export class PackedRing {
  readonly desc: number;
  /** Driver event suppression (the transport's driver area) and the device's. */
  readonly avail: number;
  readonly used: number;
  pos = 0;
  wrap = 1;
  usedPos = 0;
  usedWrap = 1;
  constructor(readonly mem: Memory, name: string, readonly size: number) {
    const l = v.packedRingLayout(size);
    const z = mem.reserve(name, l.totalBytes, 64);
    this.desc = z.offset;
    this.avail = z.offset + l.driverEvent;
    this.used = z.offset + l.deviceEvent;
  }
  /** Write the next descriptor, available under the current wrap counter (or with `raw` flags as given). */
  put(addr: number, len: number, flags: number, id: number, raw?: number): void {
    const d = this.desc + 16 * this.pos;
    this.mem.u32[d >>> 2] = addr;
    this.mem.u32[(d >>> 2) + 1] = 0;
    this.mem.u32[(d >>> 2) + 2] = len;
    this.mem.u16[(d + 12) >>> 1] = id;
    this.mem.u16[(d + 14) >>> 1] = raw ?? (flags | v.packedAvailFlags(this.wrap));
    if (++this.pos === this.size) {
      this.pos = 0;
      this.wrap ^= 1;
    }
  }
  /** The next used descriptor, or null; `skip` positions consumed (the list's descriptors). */
  take(skip = 1): { id: number; len: number; flags: number } | null {
    const d = this.desc + 16 * this.usedPos;
    const flags = this.mem.u16[(d + 14) >>> 1]!;
    const w = this.usedWrap !== 0;
    if (((flags & U) !== 0) !== w || ((flags & A) !== 0) !== w) return null;
    const r = { id: this.mem.u16[(d + 12) >>> 1]!, len: this.mem.u32[(d >>> 2) + 2]!, flags };
    this.usedPos += skip;
    if (this.usedPos >= this.size) {
      this.usedPos -= this.size;
      this.usedWrap ^= 1;
    }
    return r;
  }
}

export interface PF {
  f: Fixture;
  rx: PackedRing;
  tx: PackedRing;
}

export function packedFixture(o: { size: number; features?: v.Features; frames?: Uint8Array[]; arenaBytes?: number; memBytes?: number }): PF {
  const f = deviceFixture({
    noStart: true,
    frames: o.frames ?? [],
    memBytes: o.memBytes ?? 8 << 20,
    arenaBytes: o.arenaBytes ?? 1 << 20,
    device: { queuePairs: 1, maxQueueSize: 256, mtu: 1500, offer: { RING_PACKED: true } },
  });
  const features = o.features ?? f.dev.offered;
  if (!v.hasFeature(features, v.VIRTIO_F_RING_PACKED)) throw new Error("packedFixture: the features lack RING_PACKED");
  if (!f.client.negotiate(features)) throw new Error("FEATURES_OK refused");
  const rx = new PackedRing(f.mem, "p.rx", o.size);
  const tx = new PackedRing(f.mem, "p.tx", o.size);
  f.client.setupQueue(0, rx as unknown as DriverRing);
  f.client.setupQueue(1, tx as unknown as DriverRing);
  f.client.driverOk();
  if ((f.client.status() & v.STATUS_DRIVER_OK) === 0) throw new Error("packedFixture: DRIVER_OK refused");
  return { f, rx, tx };
}

// ---------------------------------------------------------------- random contents

const flagArb = fc.constantFrom(0, W, N, I, W | N, I | N, I | W, 0xffff & ~A & ~U);
const descArb = fc.record({
  kind: fc.constantFrom("buf", "buf", "buf", "table", "wild"),
  len: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 80, max: 3000 }), fc.constant(0xffffffff)),
  flags: flagArb,
  id: fc.nat(0xffff),
  avail: fc.constantFrom("avail", "avail", "avail", "used", "zero", "both"),
  table: fc.nat(3),
});
/** A packed ring pair's random contents: descriptors (any flags, ids, lens, tables), event suppression, frames, a second lap. */
export const packedDeviceScenarioArb = fc.record({
  size: fc.integer({ min: 1, max: 16 }),
  mrg: fc.boolean(),
  eventIdx: fc.boolean(),
  inOrder: fc.boolean(),
  indirect: fc.boolean(),
  rx: fc.array(descArb, { minLength: 16, maxLength: 16 }),
  tx: fc.array(descArb, { minLength: 16, maxLength: 16 }),
  tables: fc.array(fc.array(descArb, { minLength: 1, maxLength: 6 }), { minLength: 4, maxLength: 4 }),
  drvFlags: fc.nat(3),
  drvOffWrap: fc.nat(0xffff),
  frames: fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 2000 })), { maxLength: 24 }),
  second: fc.boolean(),
  /** 0: the descriptors as drawn; 1: RX well formed (writable 2000-byte buffers, available); 2: TX too (header + frame). */
  wellFormed: fc.nat(2),
});
export type PackedDeviceScenario = typeof packedDeviceScenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** What the device did over many packed scenarios (coverage figures for the fuzz report). */
export interface PackedDeviceStats {
  scenarios: number;
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
  needsReset: number;
}

export function newPackedDeviceStats(): PackedDeviceStats {
  return { scenarios: 0, rxPackets: 0, rxDropped: 0, txPackets: 0, txDropped: 0, needsReset: 0 };
}

/**
 * Run one scenario; throws (Error naming the broken invariant) when the device threw, wrote outside
 * what it may write (its zones, the rings' descriptors and device event structures, buffers an RX
 * descriptor marks writable) or lost count of a frame the wire announced.
 */
export function runPackedDeviceScenario(s: PackedDeviceScenario, stats?: PackedDeviceStats): void {
  const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
  let feat = probe.dev.offered;
  if (!s.mrg) feat = v.withFeature(feat, v.VIRTIO_NET_F_MRG_RXBUF, false);
  if (!s.eventIdx) feat = v.withFeature(feat, v.VIRTIO_F_EVENT_IDX, false);
  if (!s.inOrder) feat = v.withFeature(feat, v.VIRTIO_F_IN_ORDER, false);
  if (!s.indirect) feat = v.withFeature(feat, v.VIRTIO_F_INDIRECT_DESC, false);
  const { f, rx, tx } = packedFixture({
    size: s.size, features: feat, frames: s.frames.map((n, i) => frame(n, i)), memBytes: 2 << 20, arenaBytes: 256 << 10,
  });
  const mem = f.mem;
  const bufs = Array.from({ length: 8 }, () => f.arena.alloc(3000));
  const tables = s.tables.map((t) => f.arena.alloc(16 * t.length));
  const addrOf = (d: PackedDeviceScenario["rx"][number], i: number): number =>
    d.kind === "wild" ? (d.id * 7919) % (mem.size + 64) : d.kind === "table" ? tables[d.table]! : bufs[i % bufs.length]!;
  const write = (at: number, d: PackedDeviceScenario["rx"][number], i: number, flags: number): void => {
    mem.u32[at >>> 2] = addrOf(d, i);
    mem.u32[(at >>> 2) + 1] = d.kind === "wild" && d.id % 5 === 0 ? 1 : 0;
    mem.u32[(at >>> 2) + 2] = d.kind === "table" ? 16 * s.tables[d.table]!.length : d.len;
    mem.u16[(at + 12) >>> 1] = d.id;
    mem.u16[(at + 14) >>> 1] = flags;
  };
  s.tables.forEach((t, k) => t.forEach((d, i) => write(tables[k]! + 16 * i, { ...d, kind: d.kind === "table" ? "buf" : d.kind }, i, d.flags & 0x7)));
  const bits = (a: string, wrap: number): number =>
    a === "avail" ? v.packedAvailFlags(wrap) : a === "used" ? v.packedUsedFlags(wrap) : a === "both" ? A | U : 0;
  for (const [ring, ds, isTx] of [[rx, s.rx, false], [tx, s.tx, true]] as const) {
    for (let i = 0; i < s.size; i++) {
      const d = ds[i]!;
      if (s.wellFormed === 2 || (s.wellFormed === 1 && !isTx)) {
        // Good traffic between the garbage: the ids, the frame lengths and what follows stay drawn.
        const good = { ...d, kind: "buf" as const, len: isTx ? 12 + 60 + (d.len % 1400) : 2000 };
        write(ring.desc + 16 * i, good, i, (isTx ? 0 : W) | v.packedAvailFlags(1));
      } else {
        write(ring.desc + 16 * i, d, i, (d.flags & 0x7) | bits(d.avail, 1));
      }
    }
  }
  mem.u16[rx.avail >>> 1] = s.drvOffWrap;
  mem.u16[(rx.avail + 2) >>> 1] = s.drvFlags;
  mem.u16[tx.avail >>> 1] = s.drvOffWrap;
  mem.u16[(tx.avail + 2) >>> 1] = s.drvFlags;
  // What the device may write: its zones, the wire's, the two rings (used descriptors) and the device
  // event structures, and buffers an RX descriptor (or an RX indirect table entry) marks writable.
  const allowed: Array<[number, number]> = [];
  for (const z of mem.zones()) if (z.name.startsWith("vhost.") || z.name === "test.wire") allowed.push([z.offset, z.offset + z.length]);
  for (const r of [rx, tx]) allowed.push([r.desc, r.desc + 16 * r.size], [r.used, r.used + 4]);
  const addW = (at: number, inTable: boolean): void => {
    const a = mem.u32[at >>> 2]!;
    const hi = mem.u32[(at >>> 2) + 1]!;
    const l = mem.u32[(at >>> 2) + 2]!;
    const fl = mem.u16[(at + 14) >>> 1]!;
    if (hi !== 0) return;
    if (!inTable && (fl & I) !== 0) {
      if (l % 16 === 0 && a % 4 === 0 && a + l <= mem.size) for (let j = 0; j < l / 16; j++) addW(a + 16 * j, true);
      return;
    }
    if ((fl & W) !== 0) allowed.push([a, a + l]);
  };
  for (let i = 0; i < s.size; i++) addW(rx.desc + 16 * i, false);
  const before = mem.u8.slice();
  f.release(s.frames.length);
  for (let i = 0; i < 4; i++) f.pass();
  if (s.second) {
    // The driver re-marks every descriptor available under the flipped wrap counter: more passes, still bounded.
    for (const r of [rx, tx]) for (let i = 0; i < s.size; i++) mem.u16[(r.desc + 16 * i + 14) >>> 1] = (mem.u16[(r.desc + 16 * i + 14) >>> 1]! & 0x7) | v.packedAvailFlags(0);
    // What those descriptors now mark writable is the driver's choice too.
    for (let i = 0; i < s.size; i++) addW(rx.desc + 16 * i, false);
    for (let i = 0; i < 4; i++) f.pass();
  }
  const st = f.dev.stats();
  must(st.errInternal === 0, `the device threw (errInternal ${st.errInternal})`);
  for (let b = 0; b < before.length; b++) {
    if (before[b] === mem.u8[b]) continue;
    must(allowed.some(([lo, hi]) => b >= lo && b < hi), `byte ${b} changed outside the allowed ranges (${before[b]} -> ${mem.u8[b]})`);
  }
  const wr = f.wire();
  must(st.rxPackets === wr.produced, `rxPackets ${st.rxPackets} != wire produced ${wr.produced}`);
  const accounted = st.rxPackets + st.rxMissed + st.rxOversize + st.rxNoFit + st.rxDropped;
  must(accounted === wr.produced + wr.missed, `frames announced ${wr.produced + wr.missed} != accounted ${accounted}`);
  if (stats) {
    stats.scenarios++;
    stats.rxPackets += st.rxPackets;
    stats.rxDropped += accounted - st.rxPackets;
    stats.txPackets += st.txPackets;
    stats.txDropped += st.txDropped;
    if ((f.dev.status() & v.STATUS_DEVICE_NEEDS_RESET) !== 0) stats.needsReset++;
  }
}

function must(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

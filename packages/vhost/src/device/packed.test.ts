import * as fc from "fast-check";
import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import type { Memory } from "@tpdk/eal";
import { type DriverRing, type Fixture, deviceFixture, frame } from "@tpdk/testing/vhost";

// The device on hand-built packed rings (virtio 1.2 §2.8): well-formed
// traffic across wrap counter flips, chains, indirect tables, IN_ORDER
// batches, MRG_RXBUF; hostile rings counted, not crashing; and a property
// test like the split ring's: random ring contents, the device never throws
// or hangs and writes only where it may.

const W = v.VRING_DESC_F_WRITE;
const N = v.VRING_DESC_F_NEXT;
const I = v.VRING_DESC_F_INDIRECT;
const A = v.VRING_PACKED_DESC_F_AVAIL;
const U = v.VRING_PACKED_DESC_F_USED;

/** The driver's half of a packed ring, by hand. */
class PackedRing {
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

interface PF {
  f: Fixture;
  rx: PackedRing;
  tx: PackedRing;
}

function packedFixture(o: { size: number; features?: v.Features; frames?: Uint8Array[]; arenaBytes?: number; memBytes?: number }): PF {
  const f = deviceFixture({
    noStart: true,
    frames: o.frames ?? [],
    memBytes: o.memBytes ?? 8 << 20,
    arenaBytes: o.arenaBytes ?? 1 << 20,
    device: { queuePairs: 1, maxQueueSize: 256, mtu: 1500, offer: { RING_PACKED: true } },
  });
  const features = o.features ?? f.dev.offered;
  expect(v.hasFeature(features, v.VIRTIO_F_RING_PACKED)).toBe(true);
  if (!f.client.negotiate(features)) throw new Error("FEATURES_OK refused");
  const rx = new PackedRing(f.mem, "p.rx", o.size);
  const tx = new PackedRing(f.mem, "p.tx", o.size);
  f.client.setupQueue(0, rx as unknown as DriverRing);
  f.client.setupQueue(1, tx as unknown as DriverRing);
  f.client.driverOk();
  expect(f.client.status() & v.STATUS_DRIVER_OK).not.toBe(0);
  return { f, rx, tx };
}

/** A TX buffer: 12-byte zero header + frame. */
function txBuf(f: Fixture, len: number, seed: number): number {
  const a = f.arena.alloc(12 + len);
  f.mem.u8.fill(0, a, a + 12);
  f.mem.u8.set(frame(len, seed), a + 12);
  return a;
}

const needsReset = (f: Fixture): boolean => (f.dev.status() & v.STATUS_DEVICE_NEEDS_RESET) !== 0;
const NOT_IN_ORDER = (f: Fixture): v.Features => v.withFeature(f.dev.offered, v.VIRTIO_F_IN_ORDER, false);

describe("packed virtqueue, device side (§2.8)", () => {
  it("offers RING_PACKED only when asked, with the control queue (CTRL_VQ, CTRL_MAC_ADDR)", () => {
    const plain = deviceFixture({ noStart: true, device: { queuePairs: 1 } });
    expect(v.hasFeature(plain.dev.offered, v.VIRTIO_F_RING_PACKED)).toBe(false);
    const p = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    expect(v.hasFeature(p.dev.offered, v.VIRTIO_F_RING_PACKED)).toBe(true);
    expect(v.hasFeature(p.dev.offered, v.VIRTIO_NET_F_CTRL_VQ)).toBe(true);
    expect(v.hasFeature(p.dev.offered, v.VIRTIO_NET_F_CTRL_MAC_ADDR)).toBe(true);
  });

  it("TX: single-descriptor buffers across many wrap counter flips on a ring of 5 (not a power of two)", () => {
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, tx } = packedFixture({ size: 5, features: NOT_IN_ORDER(probe) });
    let sent = 0;
    for (let round = 0; round < 12; round++) {
      const k = 1 + (round % 5);
      for (let i = 0; i < k; i++) tx.put(txBuf(f, 60 + i, sent + i), 72 + i, 0, (sent + i) % 5);
      f.pass();
      for (let i = 0; i < k; i++) {
        const u = tx.take();
        expect(u).not.toBeNull();
        expect(u!.id).toBe((sent + i) % 5);
        expect(u!.flags & W).toBe(0); // nothing written into a TX buffer
      }
      expect(tx.take()).toBeNull();
      sent += k;
    }
    expect(f.wire().consumed).toBe(sent);
    expect(f.dev.stats()).toMatchObject({ txPackets: sent, txDropped: 0, needsReset: 0 });
  });

  it("inputExhausted() sees the packed TX ring: drained at start, not while a buffer waits, drained again across wrap flips", async () => {
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, tx } = packedFixture({ size: 5, features: NOT_IN_ORDER(probe) });
    // The wire's exhausted flag comes from the device's housekeeping (about once per ms).
    const tick = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 3));
      f.pass(2);
    };
    await tick();
    expect(f.dev.inputExhausted()).toBe(true);
    let sent = 0;
    for (let round = 0; round < 6; round++) {
      const k = 1 + (round % 3);
      for (let i = 0; i < k; i++) tx.put(txBuf(f, 60, sent + i), 72, 0, (sent + i) % 5);
      // Posted, not yet taken: a split ring's avail.idx != used.idx, here the descriptor at the device's position.
      expect(f.dev.inputExhausted()).toBe(false);
      f.pass();
      for (let i = 0; i < k; i++) expect(tx.take()).not.toBeNull();
      expect(f.dev.inputExhausted()).toBe(true);
      sent += k;
    }
    expect(f.wire().consumed).toBe(sent);
  });

  it("TX: a chain (header, then frame in two pieces) wrapping around the ring's end, and an indirect table", () => {
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, tx } = packedFixture({ size: 6, features: NOT_IN_ORDER(probe) });
    // Move to position 4 first, so the 3-descriptor chain wraps (4, 5, 0).
    for (let i = 0; i < 4; i++) tx.put(txBuf(f, 60, i), 72, 0, i);
    f.pass();
    for (let i = 0; i < 4; i++) expect(tx.take()?.id).toBe(i);
    const hdr = f.arena.alloc(12);
    f.mem.u8.fill(0, hdr, hdr + 12);
    const fr = frame(100, 7);
    const p1 = f.arena.alloc(40);
    const p2 = f.arena.alloc(60);
    f.mem.u8.set(fr.subarray(0, 40), p1);
    f.mem.u8.set(fr.subarray(40), p2);
    tx.put(hdr, 12, N, 9);
    tx.put(p1, 40, N, 9);
    tx.put(p2, 60, 0, 9);
    // Indirect: a table of [header, frame].
    const t = f.arena.alloc(32);
    const fb = f.arena.alloc(70);
    f.mem.u8.set(frame(70, 3), fb);
    for (const [k, a, l] of [[0, hdr, 12], [1, fb, 70]] as const) {
      f.mem.u32[(t + 16 * k) >>> 2] = a;
      f.mem.u32[((t + 16 * k) >>> 2) + 1] = 0;
      f.mem.u32[((t + 16 * k) >>> 2) + 2] = l;
      f.mem.u32[((t + 16 * k) >>> 2) + 3] = 0;
    }
    tx.put(t, 32, I, 4);
    f.pass();
    expect(tx.take(3)?.id).toBe(9); // one used descriptor for the whole list, then skip its 3 (§2.8.6)
    expect(tx.take(1)?.id).toBe(4);
    expect(f.dev.stats()).toMatchObject({ txPackets: 6, txDropped: 0, txGathered: 1, needsReset: 0 });
    expect(f.wire().consumed).toBe(6);
  });

  it("TX under IN_ORDER: one used descriptor for the batch, with the last buffer id (§2.8.9)", () => {
    const { f, tx } = packedFixture({ size: 8 });
    for (let i = 0; i < 5; i++) tx.put(txBuf(f, 60, i), 72, 0, 100 + i);
    f.pass();
    expect(tx.take(5)?.id).toBe(104);
    expect(tx.take()).toBeNull();
    expect(f.wire().consumed).toBe(5);
  });

  it("RX: frames into one-descriptor buffers across wrap flips on a ring of 7, len and header right", () => {
    const frames = Array.from({ length: 20 }, (_, i) => frame(60 + 37 * i, i));
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, rx } = packedFixture({ size: 7, frames, features: NOT_IN_ORDER(probe) });
    for (let i = 0; i < 20; i++) {
      const a = f.arena.alloc(2048);
      rx.put(a, 2048, W, 1000 + i);
      f.release(1);
      f.pass();
      const u = rx.take();
      expect(u).toMatchObject({ id: 1000 + i, len: 12 + frames[i]!.length });
      expect(u!.flags & W).toBe(W);
      expect(f.mem.u8[a + 10]).toBe(1); // num_buffers
      expect(f.mem.u8.subarray(a + 12, a + 12 + frames[i]!.length)).toEqual(frames[i]);
    }
    expect(f.dev.stats()).toMatchObject({ rxPackets: 20, rxMissed: 0, needsReset: 0 });
  });

  it("RX with MRG_RXBUF: a frame spread over three buffers, num_buffers 3, the first marked used last", () => {
    const fr = frame(500, 9);
    const { f, rx } = packedFixture({ size: 5, frames: [fr] });
    const bufs = [0, 1, 2].map(() => f.arena.alloc(200));
    bufs.forEach((a, i) => rx.put(a, 200, W, 7 + i));
    f.release(1);
    f.pass();
    const used = [rx.take(), rx.take(), rx.take()];
    expect(used.map((u) => u?.id)).toEqual([7, 8, 9]);
    expect(used.map((u) => u?.len)).toEqual([200, 200, 112]);
    expect(f.mem.u8[bufs[0]! + 10]).toBe(3);
    const got = new Uint8Array([...f.mem.u8.subarray(bufs[0]! + 12, bufs[0]! + 200), ...f.mem.u8.subarray(bufs[1]!, bufs[1]! + 200), ...f.mem.u8.subarray(bufs[2]!, bufs[2]! + 112)]);
    expect(got).toEqual(fr);
  });

  it("RX with MRG_RXBUF: a malformed list, then too few buffers: the list returned once, the good buffer kept for the next frame", () => {
    const fr = [frame(500, 1), frame(500, 2)];
    const { f, rx } = packedFixture({ size: 8, frames: fr });
    rx.put(f.arena.alloc(200), 200, 0, 5); // device-readable: not an RX buffer
    const bufs = [0, 1, 2].map(() => f.arena.alloc(200));
    rx.put(bufs[0]!, 200, W, 6); // 200 of the 512 bytes the frame needs
    f.release(1);
    f.pass();
    expect(rx.take()).toMatchObject({ id: 5, len: 0 });
    expect(rx.take()).toBeNull();
    expect(f.dev.stats()).toMatchObject({ errRxReadable: 1, rxMissed: 1, rxPackets: 0, needsReset: 0 });
    rx.put(bufs[1]!, 200, W, 7);
    rx.put(bufs[2]!, 200, W, 8);
    f.release(1);
    f.pass();
    const used = [rx.take(), rx.take(), rx.take()];
    expect(used.map((u) => u?.id)).toEqual([6, 7, 8]);
    expect(used.map((u) => u?.len)).toEqual([200, 200, 112]);
    const got = new Uint8Array([...f.mem.u8.subarray(bufs[0]! + 12, bufs[0]! + 200), ...f.mem.u8.subarray(bufs[1]!, bufs[1]! + 200), ...f.mem.u8.subarray(bufs[2]!, bufs[2]! + 112)]);
    expect(got).toEqual(fr[1]);
    expect(f.dev.stats()).toMatchObject({ rxPackets: 1, rxMissed: 1, needsReset: 0 });
  });

  it("hostile: malformed lists are returned used with len 0 and counted, the ring goes on", () => {
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, tx } = packedFixture({ size: 8, features: NOT_IN_ORDER(probe) });
    tx.put(txBuf(f, 60, 1), 72, I | N, 1); // INDIRECT with NEXT...
    tx.put(txBuf(f, 60, 1), 72, 0, 1); // ...spans two descriptors
    tx.put(f.mem.size - 8, 72, 0, 2); // outside memory
    tx.put(txBuf(f, 4, 1), 16, 0, 3); // too short for header + Ethernet header
    tx.put(txBuf(f, 60, 1), 72, 0, 4); // good
    f.pass();
    expect(tx.take(2)?.len).toBe(0);
    expect(tx.take()?.id).toBe(2);
    expect(tx.take()?.id).toBe(3);
    expect(tx.take()?.id).toBe(4);
    expect(f.dev.stats()).toMatchObject({ errIndirectNext: 1, errAddrRange: 1, errTxShort: 1, txPackets: 1, txDropped: 3, needsReset: 0 });
  });

  it("hostile: a list that runs into a descriptor that is not available needs a reset (the ring cannot be followed)", () => {
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, tx } = packedFixture({ size: 8, features: NOT_IN_ORDER(probe) });
    tx.put(txBuf(f, 60, 1), 72, N, 1);
    tx.put(txBuf(f, 60, 1), 72, 0, 1, /* wrong wrap: USED set */ U);
    f.pass();
    expect(needsReset(f)).toBe(true);
    expect(f.dev.stats().errInternal).toBe(0);
  });

  it("hostile: every descriptor NEXT and available (a list longer than the ring) needs a reset", () => {
    const probe = deviceFixture({ noStart: true, device: { queuePairs: 1, offer: { RING_PACKED: true } } });
    const { f, tx } = packedFixture({ size: 4, features: NOT_IN_ORDER(probe) });
    const b = txBuf(f, 60, 1);
    for (let i = 0; i < 4; i++) tx.put(b, 72, N, 1);
    f.pass(3);
    expect(needsReset(f)).toBe(true);
    expect(f.dev.stats().errInternal).toBe(0);
  });

  it("event suppression: the device asks for kicks with DESC at its avail position under EVENT_IDX, DISABLE while polling", () => {
    const { f, tx } = packedFixture({ size: 8 });
    const flags = (): number => f.mem.u16[(tx.used + 2) >>> 1]!;
    expect(flags()).toBe(v.RING_EVENT_FLAGS_DISABLE);
    f.loop.setNotify(true);
    expect(flags()).toBe(v.RING_EVENT_FLAGS_DESC);
    expect(f.mem.u16[tx.used >>> 1]).toBe(0 | (1 << 15)); // position 0, wrap 1
    f.loop.setNotify(false);
    expect(flags()).toBe(v.RING_EVENT_FLAGS_DISABLE);
  });

  it("used-buffer notifications follow the driver's event suppression structure (ENABLE, DISABLE, DESC)", () => {
    const { f, tx } = packedFixture({ size: 8 });
    const ints = (): number => f.dev.stats().interrupts;
    f.mem.u16[(tx.avail + 2) >>> 1] = v.RING_EVENT_FLAGS_DISABLE;
    tx.put(txBuf(f, 60, 1), 72, 0, 0);
    f.pass();
    const i0 = ints();
    f.mem.u16[(tx.avail + 2) >>> 1] = v.RING_EVENT_FLAGS_ENABLE;
    tx.put(txBuf(f, 60, 1), 72, 0, 1);
    f.pass();
    const i1 = ints();
    expect(i1).toBe(i0 + 1);
    // DESC at position 3 wrap 1: the batch covering positions 2..3 triggers it, the one at 4 does not.
    f.mem.u16[tx.avail >>> 1] = 3 | (1 << 15);
    f.mem.u16[(tx.avail + 2) >>> 1] = v.RING_EVENT_FLAGS_DESC;
    tx.put(txBuf(f, 60, 1), 72, 0, 2);
    tx.put(txBuf(f, 60, 1), 72, 0, 3);
    f.pass();
    expect(ints()).toBe(i1 + 1);
    tx.put(txBuf(f, 60, 1), 72, 0, 4);
    f.pass();
    expect(ints()).toBe(i1 + 1);
  });
});

// ---------------------------------------------------------------- property

const flagArb = fc.constantFrom(0, W, N, I, W | N, I | N, I | W, 0xffff & ~A & ~U);
const descArb = fc.record({
  kind: fc.constantFrom("buf", "buf", "buf", "table", "wild"),
  len: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 80, max: 3000 }), fc.constant(0xffffffff)),
  flags: flagArb,
  id: fc.nat(0xffff),
  avail: fc.constantFrom("avail", "avail", "avail", "used", "zero", "both"),
  table: fc.nat(3),
});
const scenarioArb = fc.record({
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
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function runScenario(s: Scenario): void {
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
  const addrOf = (d: Scenario["rx"][number], i: number): number =>
    d.kind === "wild" ? (d.id * 7919) % (mem.size + 64) : d.kind === "table" ? tables[d.table]! : bufs[i % bufs.length]!;
  const write = (at: number, d: Scenario["rx"][number], i: number, flags: number): void => {
    mem.u32[at >>> 2] = addrOf(d, i);
    mem.u32[(at >>> 2) + 1] = d.kind === "wild" && d.id % 5 === 0 ? 1 : 0;
    mem.u32[(at >>> 2) + 2] = d.kind === "table" ? 16 * s.tables[d.table]!.length : d.len;
    mem.u16[(at + 12) >>> 1] = d.id;
    mem.u16[(at + 14) >>> 1] = flags;
  };
  s.tables.forEach((t, k) => t.forEach((d, i) => write(tables[k]! + 16 * i, { ...d, kind: d.kind === "table" ? "buf" : d.kind }, i, d.flags & 0x7)));
  const bits = (a: string, wrap: number): number =>
    a === "avail" ? v.packedAvailFlags(wrap) : a === "used" ? v.packedUsedFlags(wrap) : a === "both" ? A | U : 0;
  for (const [ring, ds] of [[rx, s.rx], [tx, s.tx]] as const) {
    for (let i = 0; i < s.size; i++) write(ring.desc + 16 * i, ds[i]!, i, (ds[i]!.flags & 0x7) | bits(ds[i]!.avail, 1));
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
  expect(st.errInternal).toBe(0);
  for (let b = 0; b < before.length; b++) {
    if (before[b] === mem.u8[b]) continue;
    if (!allowed.some(([lo, hi]) => b >= lo && b < hi)) expect.fail(`byte ${b} changed outside the allowed ranges`);
  }
  const wr = f.wire();
  expect(st.rxPackets).toBe(wr.produced);
  expect(st.rxPackets + st.rxMissed + st.rxOversize + st.rxNoFit + st.rxDropped).toBe(wr.produced + wr.missed);
}

describe("packed ring against random contents (property)", () => {
  it("never throws, never hangs, writes only where allowed, accounts for every frame", () => {
    fc.assert(fc.property(scenarioArb, (s) => runScenario(s)), { numRuns: 150 });
  });
});

import * as fc from "fast-check";
import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { type Fixture, deviceFixture, frame } from "./testing/fixture.js";

/**
 * Property: whatever the driver puts in its rings (random descriptors,
 * indirect tables, avail entries, avail.idx), the device
 *  - never throws (errInternal stays 0, pass() returns),
 *  - never hangs (every pass returns; the test would time out otherwise),
 *  - never writes outside where it may: its own zones, the used rings, and
 *    buffers an RX descriptor marks device-writable. The whole buffer is the
 *    guard: it is filled with noise first and compared byte by byte after;
 *  - accounts for every frame the wire announced (delivered, missed,
 *    oversize, no-fit or dropped) and, unless it needed a reset, returns
 *    every TX chain made available (sent or dropped).
 */

const MEM = 2 << 20;
const DATA_BYTES = 64 << 10;
const TABLE_SLOT = 16 * 8;

interface DescSpec {
  where: number;
  off: number;
  len: number;
  flags: number;
  next: number;
  hi: number;
}

const descArb: fc.Arbitrary<DescSpec> = fc.record({
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
const headArb = fc.oneof({ weight: 30, arbitrary: fc.nat(15) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 18 }) });
/** avail.idx: mostly what the entries imply (null), rarely anything. */
const idxArb = fc.oneof({ weight: 15, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(0xffff) });

const scenarioArb = fc.record({
  qlog: fc.integer({ min: 1, max: 4 }), // queue size 2..16
  mrg: fc.boolean(),
  eventIdx: fc.boolean(),
  inOrder: fc.boolean(),
  indirect: fc.boolean(),
  version1: fc.boolean(),
  rxDescs: fc.array(descArb, { minLength: 16, maxLength: 16 }),
  txDescs: fc.array(descArb, { minLength: 16, maxLength: 16 }),
  tables: fc.array(fc.array(descArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
  rxHeads: fc.array(headArb, { maxLength: 16 }),
  txHeads: fc.array(headArb, { maxLength: 16 }),
  rxIdx: idxArb,
  txIdx: idxArb,
  availFlags: fc.nat(3),
  usedEvent: fc.nat(0xffff),
  frames: fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 2000 })), { maxLength: 24 }),
  noise: fc.nat(0xffffffff),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

interface World {
  f: Fixture;
  data: number;
  tables: number[];
  tableLens: number[];
}

function addrOf(w: World, d: DescSpec, size: number): number {
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

function lenOf(w: World, d: DescSpec): number {
  if (d.where === 4 && (d.flags & v.VRING_DESC_F_INDIRECT) !== 0 && d.len % 3 !== 0) {
    return 16 * w.tableLens[d.off % w.tables.length]!;
  }
  return d.len;
}

function writeDesc(w: World, at: number, d: DescSpec, size: number): void {
  const mem = w.f.mem;
  mem.u32[at >>> 2] = addrOf(w, d, size);
  mem.u32[(at >>> 2) + 1] = d.hi;
  mem.u32[(at >>> 2) + 2] = lenOf(w, d);
  mem.u16[(at + 12) >>> 1] = d.flags;
  // Mostly a next inside the queue, sometimes one past it (or past a table).
  mem.u16[(at + 14) >>> 1] = d.next < 18 ? d.next % size : size + d.next - 18;
}

function build(s: Scenario): World {
  const size = 1 << s.qlog;
  const bits = [v.VIRTIO_NET_F_MAC];
  if (s.mrg) bits.push(v.VIRTIO_NET_F_MRG_RXBUF);
  if (s.eventIdx) bits.push(v.VIRTIO_F_EVENT_IDX);
  if (s.inOrder) bits.push(v.VIRTIO_F_IN_ORDER);
  if (s.indirect) bits.push(v.VIRTIO_F_INDIRECT_DESC);
  if (s.version1) bits.push(v.VIRTIO_F_VERSION_1);
  const f = deviceFixture({
    memBytes: MEM,
    arenaBytes: 256 << 10,
    queueSize: size,
    features: v.features(...bits),
    frames: s.frames.map((n, i) => frame(n, i)),
    device: { maxQueueSize: 16, mtu: 1500 },
  });
  const tables: number[] = [];
  const tableLens: number[] = [];
  for (const t of s.tables) {
    tables.push(f.arena.alloc(TABLE_SLOT, 16));
    tableLens.push(t.length);
  }
  const data = f.arena.alloc(DATA_BYTES + 4096, 64);
  const w: World = { f, data, tables, tableLens };
  // Noise everywhere the driver owns or nobody owns; then the driver's structures.
  let x = s.noise | 1;
  const noise = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      f.mem.u8[i] = x & 0xff;
    }
  };
  noise(f.arena.base, f.arena.end);
  const lastZone = Math.max(...f.mem.zones().map((z) => z.offset + z.length));
  noise(lastZone, Math.min(f.mem.size, lastZone + (64 << 10)));
  noise(f.mem.size - 4096, f.mem.size);
  s.tables.forEach((t, i) => t.forEach((d, j) => writeDesc(w, tables[i]! + 16 * j, d, size)));
  const [rx, tx] = [f.rings[0]!, f.rings[1]!];
  for (let i = 0; i < size; i++) {
    writeDesc(w, rx.desc + 16 * i, s.rxDescs[i]!, size);
    writeDesc(w, tx.desc + 16 * i, s.txDescs[i]!, size);
  }
  const head = (h: number): number => (h < 16 ? h % size : size + h - 16);
  for (const h of s.rxHeads.slice(0, size)) rx.add(head(h));
  for (const h of s.txHeads.slice(0, size)) tx.add(head(h));
  rx.setAvailFlags(s.availFlags);
  tx.setAvailFlags(s.availFlags);
  rx.setUsedEvent(s.usedEvent);
  tx.setUsedEvent(s.usedEvent);
  if (s.rxIdx !== null) rx.setAvailIdx(s.rxIdx);
  else rx.publish();
  if (s.txIdx !== null) tx.setAvailIdx(s.txIdx);
  else tx.publish();
  return w;
}

/** Byte ranges the device may write: its zones, used rings, RX device-writable buffers (incl. indirect tables' entries). */
function allowedRanges(w: World): Array<[number, number]> {
  const { f } = w;
  const mem = f.mem;
  const out: Array<[number, number]> = [];
  for (const z of mem.zones()) {
    if (z.name.startsWith("vhost.") || z.name === "test.wire") out.push([z.offset, z.offset + z.length]);
  }
  for (const r of f.rings) out.push([r.used, r.used + 6 + 8 * r.size]);
  const rx = f.rings[0]!;
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
  for (let i = 0; i < rx.size; i++) addWritable(rx.desc + 16 * i, true);
  return out;
}

function check(s: Scenario): void {
  const w = build(s);
  const { f } = w;
  const before = f.mem.u8.slice();
  const allowed = allowedRanges(w);
  f.release(s.frames.length);
  for (let i = 0; i < 4; i++) f.loop.pass();
  const st = f.dev.stats();
  expect(st.errInternal).toBe(0);
  // Memory: every changed byte lies in an allowed range.
  const after = f.mem.u8;
  allowed.sort((a, b) => a[0] - b[0]);
  let k = 0;
  for (let i = 0; i < after.length; i++) {
    if (after[i] === before[i]) continue;
    while (k < allowed.length && allowed[k]![1] <= i) k++;
    let ok = false;
    for (let j = k; j < allowed.length && allowed[j]![0] <= i; j++) {
      if (i < allowed[j]![1]) {
        ok = true;
        break;
      }
    }
    if (!ok) expect.fail(`byte ${i} changed outside the allowed ranges (${before[i]} -> ${after[i]})`);
  }
  // Accounting.
  const wr = f.wire();
  expect(st.rxPackets).toBe(wr.produced);
  expect(st.rxPackets + st.rxMissed + st.rxOversize + st.rxNoFit + st.rxDropped).toBe(wr.produced + wr.missed);
  const needsReset = (f.dev.status() & v.STATUS_DEVICE_NEEDS_RESET) !== 0;
  if (!needsReset) {
    expect(wr.remaining).toBe(0);
    const tx = f.rings[1]!;
    expect(tx.usedIdx()).toBe(tx.availIdx);
    expect(st.txPackets + st.txDropped).toBe(tx.availIdx);
    expect(wr.consumed).toBe(st.txPackets);
  } else {
    expect(st.errAvailIdx + st.errHeadIndex).toBeGreaterThan(0);
  }
}

describe("device against random ring contents (property)", () => {
  it("never throws, never hangs, writes only where allowed, accounts for every frame", () => {
    fc.assert(fc.property(scenarioArb, (s) => check(s)), { numRuns: 150 });
  });
});

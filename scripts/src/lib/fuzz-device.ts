/**
 * The device (vhost) against random driver-written rings, over several
 * rounds: each round the "driver" rewrites descriptors (random or well
 * formed), adds avail entries (or stores any avail.idx), releases frames on
 * the wire, and the device loop runs a few passes. It extends vhost's
 * property test (packages/vhost/src/property.test.ts, whose generators it
 * shares: @tpdk/testing/ring-arbitraries) from one shot to a ring
 * state that evolves, wraps and mixes good and bad chains.
 *
 * Invariants: the device never throws (errInternal 0) and every pass
 * returns; it writes only its zones, the used rings and buffers some RX
 * descriptor offered as device-writable (the whole buffer is compared before
 * and after every round); every frame the wire announced is accounted for
 * (delivered, missed, oversize, no-fit, dropped) and, unless the device
 * needed a reset, every TX chain made available came back (sent or dropped)
 * and what was sent is what the wire consumed.
 */
import * as fc from "fast-check";
import * as v from "@tpdk/virtio";
import { deviceFixture, frame } from "@tpdk/testing/vhost";
import {
  type DescSpec, type RingWorld, DATA_BYTES, allowedRanges, chosenFeatures, descArb, firstForbiddenWrite, ringWorld,
  scribble, setAvail, writeDesc,
} from "@tpdk/testing/ring-arbitraries";

const MEM = 2 << 20;
const MAX_Q = 32;

interface Round {
  /** 0: random descriptors, 1: well-formed ones, 2: keep the previous round's. */
  kind: number;
  descs: DescSpec[];
  rxHeads: number[];
  txHeads: number[];
  rxIdx: number | null;
  txIdx: number | null;
  /** Add RX heads even when that posts more than a ring's worth (a fatal avail.idx). */
  overfill: boolean;
  availFlags: number;
  usedEvent: number;
  frames: number;
  passes: number;
  segs: number;
  frameLen: number;
}

export interface DeviceScenario {
  qlog: number;
  mrg: boolean;
  eventIdx: boolean;
  inOrder: boolean;
  indirect: boolean;
  version1: boolean;
  tables: DescSpec[][];
  frameLens: number[];
  rounds: Round[];
  noise: number;
}

/**
 * An avail entry: 0..31 is a head inside the queue (mod its size); 100..102
 * one past its end. Fatal errors (a head out of range, a wild avail.idx) end
 * a scenario's interesting life (DEVICE_NEEDS_RESET), so they are rare here:
 * the property test covers them one shot at a time.
 */
const headAnyArb = fc.oneof({ weight: 400, arbitrary: fc.nat(MAX_Q - 1) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 102 }) });
const roundIdxArb = fc.oneof({ weight: 60, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(0xffff) });

const roundArb: fc.Arbitrary<Round> = fc.record({
  kind: fc.nat(2),
  descs: fc.array(descArb, { minLength: 2 * MAX_Q, maxLength: 2 * MAX_Q }),
  rxHeads: fc.array(headAnyArb, { maxLength: MAX_Q }),
  txHeads: fc.array(headAnyArb, { maxLength: MAX_Q }),
  rxIdx: roundIdxArb,
  txIdx: roundIdxArb,
  overfill: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  availFlags: fc.nat(3),
  usedEvent: fc.nat(0xffff),
  frames: fc.nat(40),
  passes: fc.integer({ min: 1, max: 4 }),
  segs: fc.integer({ min: 1, max: 4 }),
  frameLen: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 1600 })),
});

export const deviceScenarioArb: fc.Arbitrary<DeviceScenario> = fc.record({
  qlog: fc.integer({ min: 1, max: 5 }), // queue size 2..32
  mrg: fc.boolean(),
  eventIdx: fc.boolean(),
  inOrder: fc.boolean(),
  indirect: fc.boolean(),
  version1: fc.boolean(),
  tables: fc.array(fc.array(descArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
  frameLens: fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 2000 })), { minLength: 1, maxLength: 16 }),
  rounds: fc.array(roundArb, { minLength: 1, maxLength: 8, size: "max" }),
  noise: fc.nat(0xffffffff),
});

class Failure extends Error {}
function must(cond: boolean, what: string): void {
  if (!cond) throw new Failure(what);
}

/**
 * Well-formed rings: each RX descriptor a writable 2 KiB buffer of its own,
 * each TX head a chain of `segs` readable descriptors (header + frame) over
 * the data area. The rest of the scenario (heads, indices) stays random.
 */
function writeWellFormed(w: RingWorld, size: number, hdr: number, segs: number, frameLen: number): void {
  const { f, data } = w;
  const [rx, tx] = [f.rings[0]!, f.rings[1]!];
  const bufBytes = Math.floor(DATA_BYTES / 2 / size) & ~15;
  for (let i = 0; i < size; i++) rx.setDesc(i, data + i * bufBytes, bufBytes, v.VRING_DESC_F_WRITE);
  // TX: chains of `segs` descriptors starting at every multiple of segs (others: single header+frame descriptors).
  const txArea = data + DATA_BYTES / 2;
  const len = hdr + Math.max(14, frameLen);
  const per = Math.ceil(len / segs);
  for (let i = 0; i < size; i++) {
    const inChain = i % segs;
    const last = inChain === segs - 1 || i === size - 1;
    const seg = inChain === segs - 1 ? len - per * (segs - 1) : per;
    tx.setDesc(i, txArea + (i % 64) * 32, Math.max(1, seg), last ? 0 : v.VRING_DESC_F_NEXT, last ? 0 : i + 1);
  }
}

/** What the device did over many scenarios (coverage figures for the report). */
export interface DeviceFuzzStats {
  scenarios: number;
  rounds: number;
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
  needsReset: number;
  chainErrors: number;
}

export function newDeviceFuzzStats(): DeviceFuzzStats {
  return { scenarios: 0, rounds: 0, rxPackets: 0, rxDropped: 0, txPackets: 0, txDropped: 0, needsReset: 0, chainErrors: 0 };
}

export function runDeviceScenario(s: DeviceScenario, stats?: DeviceFuzzStats): void {
  const size = 1 << s.qlog;
  const f = deviceFixture({
    memBytes: MEM,
    arenaBytes: 256 << 10,
    queueSize: size,
    features: chosenFeatures(s),
    frames: s.frameLens.map((n, i) => frame(n, i)),
    repeat: 0,
    device: { maxQueueSize: MAX_Q, mtu: 1500 },
  });
  const hdr = v.netHdrSize(s.version1, s.mrg);
  const w = ringWorld(f, s.tables.map((t) => t.length));
  scribble(w, s.noise, s.tables, size);
  const [rx, tx] = [f.rings[0]!, f.rings[1]!];
  const head = (h: number): number => (h < 100 ? h % size : size + h - 100);
  let released = 0;
  // Everything the device may ever have been offered to write: a device may use a buffer it took earlier.
  const allowed: Array<[number, number]> = [];
  for (const [ri, r] of s.rounds.entries()) {
    if (r.kind === 0) {
      for (let i = 0; i < size; i++) {
        writeDesc(w, rx.desc + 16 * i, r.descs[i]!, size);
        writeDesc(w, tx.desc + 16 * i, r.descs[MAX_Q + i]!, size);
      }
    } else if (r.kind === 1) {
      writeWellFormed(w, size, hdr, r.segs, r.frameLen);
    }
    const outstanding = (rx.availIdx - rx.usedIdx()) & 0xffff;
    const room = r.overfill ? size : Math.max(0, size - outstanding);
    for (const h of r.rxHeads.slice(0, room)) rx.add(head(h));
    for (const h of r.txHeads.slice(0, size)) tx.add(head(h));
    setAvail(rx, tx, r);
    allowed.push(...allowedRanges(w));
    const before = f.mem.u8.slice();
    f.release(r.frames);
    released += r.frames;
    for (let p = 0; p < r.passes; p++) f.loop.pass();
    must(f.dev.stats().errInternal === 0, `round ${ri}: the device threw (errInternal ${f.dev.stats().errInternal})`);
    const bad = firstForbiddenWrite(before, f.mem.u8, allowed);
    must(bad < 0, `round ${ri}: byte ${bad} changed outside every range the device may write (${before[bad]} -> ${f.mem.u8[bad]})`);
  }
  const before = f.mem.u8.slice();
  f.pass(4);
  const bad = firstForbiddenWrite(before, f.mem.u8, allowed);
  must(bad < 0, `final passes: byte ${bad} changed outside every range the device may write`);
  // Accounting.
  const st = f.dev.stats();
  const wr = f.wire();
  must(st.errInternal === 0, "the device threw");
  must(st.rxPackets === wr.produced, `rxPackets ${st.rxPackets} != wire produced ${wr.produced}`);
  must(
    st.rxPackets + st.rxMissed + st.rxOversize + st.rxNoFit + st.rxDropped === wr.produced + wr.missed,
    `frames announced ${wr.produced + wr.missed} != accounted ${st.rxPackets}+${st.rxMissed}+${st.rxOversize}+${st.rxNoFit}+${st.rxDropped}`,
  );
  const needsReset = (f.dev.status() & v.STATUS_DEVICE_NEEDS_RESET) !== 0;
  if (stats) {
    stats.scenarios++;
    stats.rounds += s.rounds.length;
    stats.rxPackets += st.rxPackets;
    stats.rxDropped += st.rxMissed + st.rxOversize + st.rxNoFit + st.rxDropped;
    stats.txPackets += st.txPackets;
    stats.txDropped += st.txDropped;
    if (needsReset) stats.needsReset++;
    stats.chainErrors += st.errNextIndex + st.errChainLength + st.errIndirectNext + st.errIndirectNested + st.errIndirectTable +
      st.errIndirectFeature + st.errAddrHigh + st.errAddrRange + st.errDescOrder + st.errRxReadable + st.errRxBufferSmall + st.errTxShort + st.errTxOversize;
  }
  if (!needsReset) {
    must(wr.produced + wr.missed === released, `${released} frames released, ${wr.produced + wr.missed} announced`);
    must(tx.usedIdx() === tx.availIdx, `tx used.idx ${tx.usedIdx()} != avail.idx ${tx.availIdx}`);
    must(((st.txPackets + st.txDropped) & 0xffff) === tx.availIdx, `tx chains ${st.txPackets}+${st.txDropped} != made available ${tx.availIdx}`);
    must(wr.consumed === st.txPackets, `wire consumed ${wr.consumed} != txPackets ${st.txPackets}`);
  } else {
    must(st.errAvailIdx + st.errHeadIndex + st.errQueueSetup > 0, "DEVICE_NEEDS_RESET without a fatal error counted");
  }
}

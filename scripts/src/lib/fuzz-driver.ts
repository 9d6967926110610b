/**
 * The driver (virtio-pmd) against a random, optionally hostile device: the
 * fake device of virtio-pmd's tests (@tpdk/testing/virtio-pmd), driven step by step by a
 * fast-check scenario that interleaves what the device does (deliver frames,
 * write garbage used entries, publish any used.idx, claim any num_buffers,
 * return TX chains honestly or not) with what the app does (rxBurst, txBurst
 * with 1..10 segments, cleanup, keep mbufs then free them).
 *
 * Invariants, always: nothing throws (the pool is a debug pool: a double free
 * throws); an mbuf is never handed out while the app still holds it, and
 * every mbuf chain handed out is well formed; the driver writes only its own
 * zones, the pool and the device's transport region; after stop() every mbuf
 * is back in the pool. Honest device: every delivered frame is received once,
 * in order, byte for byte, every sent packet reaches the device in order byte
 * for byte, and the counters say exactly that.
 */
import * as fc from "fast-check";
import { type Rig, type RigOptions, fromMbuf, rig, toMbuf } from "@tpdk/testing/virtio-pmd";

type Step =
  | { k: "deliver"; len: number; seed: number; nb: number | null }
  | { k: "garbageUsed"; q: 0 | 1; id: number; len: number }
  | { k: "publish"; q: 0 | 1; idx: number | null }
  | { k: "rx"; n: number; keep: number }
  | { k: "tx"; lens: number[]; segs: number[] }
  | { k: "devTx"; max: number; lie: number; len: number }
  | { k: "cleanup" }
  | { k: "free"; n: number };

export interface DriverScenario {
  hostile: boolean;
  mrg: boolean;
  inOrder: boolean;
  eventIdx: boolean;
  indirect: boolean;
  txMode: "auto" | "push" | "indirect" | "chained";
  rxDesc: number;
  txDesc: number;
  poolExtra: number;
  smallBuffers: number;
  steps: Step[];
}

const pow2 = fc.constantFrom(8, 16, 32, 64);

function stepArb(hostile: boolean): fc.Arbitrary<Step> {
  const honest: fc.WeightedArbitrary<Step>[] = [
    { weight: 6, arbitrary: fc.record({ k: fc.constant("deliver" as const), len: fc.oneof(fc.integer({ min: 14, max: 128 }), fc.integer({ min: 129, max: 1514 })), seed: fc.nat(255), nb: fc.constant(null) }) },
    { weight: 5, arbitrary: fc.record({ k: fc.constant("rx" as const), n: fc.integer({ min: 1, max: 64 }), keep: fc.nat(0xffffffff) }) },
    {
      weight: 5,
      arbitrary: fc.integer({ min: 1, max: 12 }).chain((n) =>
        fc.record({
          k: fc.constant("tx" as const),
          lens: fc.array(fc.integer({ min: 14, max: 1514 }), { minLength: n, maxLength: n }),
          segs: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 7 }) }, { weight: 1, arbitrary: fc.integer({ min: 8, max: 10 }) }), { minLength: n, maxLength: n }),
        }),
      ),
    },
    { weight: 4, arbitrary: fc.record({ k: fc.constant("devTx" as const), max: fc.integer({ min: 1, max: 80 }), lie: fc.constant(0), len: fc.constant(0) }) },
    { weight: 1, arbitrary: fc.constant({ k: "cleanup" as const }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("free" as const), n: fc.integer({ min: 1, max: 200 }) }) },
  ];
  if (!hostile) return fc.oneof(...honest);
  return fc.oneof(
    ...honest,
    // A frame whose header claims any num_buffers (mergeable), published or not.
    { weight: 2, arbitrary: fc.record({ k: fc.constant("deliver" as const), len: fc.integer({ min: 0, max: 3000 }), seed: fc.nat(255), nb: fc.integer({ min: 0, max: 70 }) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant("garbageUsed" as const), q: fc.constantFrom(0 as const, 1 as const), id: fc.oneof(fc.nat(70), fc.nat(0xffffffff)), len: fc.oneof(fc.nat(3000), fc.nat(0xffffffff)) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant("publish" as const), q: fc.constantFrom(0 as const, 1 as const), idx: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(0xffff) }) }) },
    // TX chains returned with a lie: 1 = another id, 2 = the same id twice, 3 = a wild len.
    { weight: 3, arbitrary: fc.record({ k: fc.constant("devTx" as const), max: fc.integer({ min: 1, max: 80 }), lie: fc.integer({ min: 1, max: 3 }), len: fc.nat(0xffffffff) }) },
  );
}

export const driverScenarioArb: fc.Arbitrary<DriverScenario> = fc.boolean().chain((hostile) =>
  fc.record({
    hostile: fc.constant(hostile),
    mrg: fc.boolean(),
    inOrder: fc.boolean(),
    eventIdx: fc.boolean(),
    indirect: fc.boolean(),
    txMode: fc.constantFrom("auto" as const, "push" as const, "indirect" as const, "chained" as const),
    rxDesc: pow2,
    txDesc: pow2,
    poolExtra: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 40, max: 400 })),
    smallBuffers: fc.nat(2),
    steps: fc.array(stepArb(hostile), { minLength: 1, maxLength: 160, size: "max" }),
  }),
);

/** Byte ranges the driver may write: its zones, the pool, the device's transport region. */
function forbiddenRanges(r: Rig): Array<[number, number]> {
  const allowed = r.mem
    .zones()
    .filter((z) => z.name.startsWith("vpmd") || z.name.startsWith("MP_") || z.name.startsWith("fakedev."))
    .map((z) => [z.offset, z.offset + z.length] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  let at = 0;
  for (const [lo, hi] of allowed) {
    if (lo > at) out.push([at, lo]);
    at = Math.max(at, hi);
  }
  if (at < r.mem.size) out.push([at, r.mem.size]);
  return out;
}

class Failure extends Error {}
function must(cond: boolean, what: string): void {
  if (!cond) throw new Failure(what);
}

/** What the driver did over many scenarios (coverage figures for the report). */
export interface DriverFuzzStats {
  scenarios: number;
  hostile: number;
  received: number;
  sent: number;
  ierrors: number;
  oerrors: number;
  rxNombuf: number;
  txRingFull: number;
}

export function newDriverFuzzStats(): DriverFuzzStats {
  return { scenarios: 0, hostile: 0, received: 0, sent: 0, ierrors: 0, oerrors: 0, rxNombuf: 0, txRingFull: 0 };
}

/** Run one scenario; throws (Failure or the driver's own exception) when an invariant breaks. */
export function runDriverScenario(s: DriverScenario, stats?: DriverFuzzStats): void {
  const mrg = s.mrg || s.smallBuffers > 0;
  const dataRoom = !mrg || s.smallBuffers === 0 ? 2176 : s.smallBuffers === 1 ? 128 + 256 : 128 + 64;
  const o: RigOptions = {
    pmd: {
      mrgRxbuf: mrg,
      inOrder: s.inOrder,
      eventIdx: s.eventIdx,
      indirect: s.indirect || s.txMode === "indirect",
      txMode: s.txMode,
      queueSize: 64,
    },
    rxDesc: s.rxDesc,
    txDesc: s.txDesc,
    poolSize: s.rxDesc + s.poolExtra + 16,
    dataRoom,
    memMb: 8,
  };
  const r = rig(o);
  const room = dataRoom - 128;
  const { mem, dev, mbufs } = r;
  // Noise where nobody may write, to be compared at the end.
  const forbidden = forbiddenRanges(r);
  let x = 0x9e3779b9;
  for (const [lo, hi] of forbidden) {
    if (lo < 4096) continue; // the EAL header: other threads' words, left as they are
    for (let i = lo; i < hi; i += 4096) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      mem.u8[i] = x & 0xff;
    }
  }
  const guard = forbidden.map(([lo, hi]) => mem.u8.slice(lo, hi));

  const held = new Set<number>();
  const heldOrder: number[] = [];
  const expectRx: Uint8Array[] = [];
  const expectTx: Uint8Array[] = [];
  let handedOut = 0;
  let sent = 0;
  const arr = new Uint32Array(64);
  const pkts = new Uint32Array(12);
  const maxFrame = mrg ? 3000 : 1514;
  const rxVq = r.rxVq;
  const txVq = r.txVq;
  let lastTxHead = -1;

  const checkChain = (m: number): void => {
    let n = 0;
    let len = 0;
    for (let sgm = m; sgm !== 0 && n <= 64; sgm = mbufs.next(sgm)) {
      n++;
      len += mbufs.dataLen(sgm);
    }
    must(n === mbufs.nbSegs(m), `mbuf ${m}: nb_segs ${mbufs.nbSegs(m)} but a chain of ${n}`);
    must(len === mbufs.pktLen(m), `mbuf ${m}: pkt_len ${mbufs.pktLen(m)} but segments add to ${len}`);
  };

  const receive = (n: number, keep: number): number => {
    const got = r.rxq.rxBurst(arr, n);
    must(got >= 0 && got <= n, `rxBurst(${n}) returned ${got}`);
    for (let i = 0; i < got; i++) {
      const m = arr[i]!;
      must(!held.has(m), `mbuf ${m} handed out while the app still holds it`);
      checkChain(m);
      if (!s.hostile) {
        const want = expectRx.shift();
        must(want !== undefined, "received a frame nobody delivered");
        const bytes = fromMbuf(r, m);
        must(bytes.length === want!.length && bytes.every((b, j) => b === want![j]), `frame ${handedOut} differs from what was delivered`);
      }
      handedOut++;
      if ((keep >>> (i % 32)) & 1) {
        held.add(m);
        heldOrder.push(m);
      } else mbufs.free(m);
    }
    return got;
  };

  const freeHeld = (n: number): void => {
    for (let i = 0; i < n && heldOrder.length > 0; i++) {
      const m = heldOrder.shift()!;
      held.delete(m);
      mbufs.free(m);
    }
  };

  const deviceTx = (max: number, lie: number, len: number): void => {
    for (let k = 0; k < max; k++) {
      const h = dev.popAvail(txVq);
      if (h < 0) break;
      if (!s.hostile) {
        const c = dev.chain(txVq, h);
        const bytes = dev.gather(c, r.hdr);
        const want = expectTx.shift();
        must(want !== undefined, "the device found a packet nobody sent");
        must(bytes.length === want!.length && bytes.every((b, j) => b === want![j]), `packet ${sent - expectTx.length - 1} reached the device changed`);
      }
      const id = lie === 1 ? (h + 1 + (len % 7)) % (s.txDesc + 3) : lie === 2 && lastTxHead >= 0 ? lastTxHead : h;
      dev.pushUsed(txVq, id, lie === 3 ? len : 0);
      lastTxHead = h;
    }
    dev.publishUsed(txVq);
  };

  for (const st of s.steps) {
    switch (st.k) {
      case "deliver": {
        const len = Math.min(st.len, maxFrame);
        const f = new Uint8Array(len);
        for (let i = 0; i < len; i++) f[i] = (st.seed + i * 31) & 0xff;
        if (len >= 1) f[0] &= 0xfe; // unicast
        const heads = dev.deliver(rxVq, f, r.hdr, mrg, st.nb ?? undefined);
        if (heads && !s.hostile) {
          dev.publishUsed(rxVq);
          if (len >= 14) expectRx.push(f); // runts are dropped and counted
        }
        break;
      }
      case "garbageUsed":
        dev.pushUsed(st.q === 0 ? rxVq : txVq, st.id, st.len);
        break;
      case "publish":
        dev.publishUsed(st.q === 0 ? rxVq : txVq, st.idx ?? undefined);
        break;
      case "rx":
        receive(st.n, st.keep);
        break;
      case "tx": {
        const n = st.lens.length;
        const frames: Uint8Array[] = [];
        let i = 0;
        for (; i < n; i++) {
          const f = new Uint8Array(st.lens[i]!);
          for (let j = 0; j < f.length; j++) f[j] = (j * 7 + sent + i) & 0xff;
          // Enough segments for the pool's data room (toMbuf does not check tailroom).
          const segs = Math.min(Math.max(st.segs[i]!, Math.ceil(f.length / room)), f.length);
          if (r.pool.available() < segs) break;
          pkts[i] = toMbuf(r, f, segs);
          frames.push(f);
        }
        const k = r.txq.txBurst(pkts, i);
        must(k >= 0 && k <= i, `txBurst(${i}) returned ${k}`);
        for (let j = 0; j < k; j++) expectTx.push(frames[j]!);
        sent += k;
        for (let j = k; j < i; j++) mbufs.free(pkts[j]!);
        break;
      }
      case "devTx":
        deviceTx(st.max, s.hostile ? st.lie : 0, st.len);
        break;
      case "cleanup":
        r.txq.cleanup();
        break;
      case "free":
        freeHeld(st.n);
        break;
    }
  }

  // Finish: an honest device hands over everything it still has, the app takes it.
  if (!s.hostile) {
    deviceTx(1 << 16, 0, 0);
    for (let i = 0; i < 1000 && expectRx.length > 0; i++) {
      if (receive(64, 0) === 0) freeHeld(1 << 16); // the pool may be dry: give mbufs back so the ring refills
    }
    must(expectRx.length === 0, `${expectRx.length} delivered frame(s) never received`);
    must(expectTx.length === 0, `${expectTx.length} sent packet(s) never reached the device`);
    const st = r.port.stats();
    must(st.ipackets === handedOut, `ipackets ${st.ipackets} != ${handedOut} received`);
    must(st.opackets === sent, `opackets ${st.opackets} != ${sent} sent`);
    must(st.ierrors === 0 && st.oerrors === 0, `errors from an honest device: ierrors ${st.ierrors}, oerrors ${st.oerrors}`);
  } else {
    const st = r.port.stats();
    must(st.ipackets === handedOut, `ipackets ${st.ipackets} != ${handedOut} handed out`);
    must(st.opackets === sent, `opackets ${st.opackets} != ${sent} taken by txBurst`);
  }
  if (stats) {
    const st = r.port.stats();
    stats.scenarios++;
    if (s.hostile) stats.hostile++;
    stats.received += handedOut;
    stats.sent += sent;
    stats.ierrors += st.ierrors;
    stats.oerrors += st.oerrors;
    stats.rxNombuf += st.rx_nombuf;
    stats.txRingFull += r.port.xstats().find((x) => x.name === "tx_q0_ring_full")?.value ?? 0;
  }
  freeHeld(1 << 16);
  r.txq.cleanup();
  r.port.stop(0);
  must(r.pool.available() === r.pool.size, `${r.pool.size - r.pool.available()} mbuf(s) lost`);
  forbidden.forEach(([lo, hi], i) => {
    const g = guard[i]!;
    for (let a = lo; a < hi; a++) if (mem.u8[a] !== g[a - lo]) throw new Failure(`the driver wrote byte ${a}, outside its zones, the pool and the device region`);
  });
  r.port.close();
}

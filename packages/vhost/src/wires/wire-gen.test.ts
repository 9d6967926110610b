import { describe, expect, it } from "vitest";
import { Memory } from "@tpdk/eal";
import { L3_OFF, L4_OFF, PAYLOAD_OFF, PL_SEQ, PL_STREAM, PL_TIMESTAMP, readF64, readU16, readU32 } from "./frame.js";
import { UNPACED_DUE } from "./wire-gen.js";
import { WIRE_STATS_BYTES, createWire, readWireStats, type GenWireSpec } from "./wires.js";
import { readyAt, consumeAt } from "./at-time.js";

function refSum(bytes: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i]! << 8) + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
    if (s > 0xffff) s = (s & 0xffff) + 1;
  }
  return s;
}

/** Independent full check of one frame's IPv4 and UDP checksums. */
function checksumsValid(f: Uint8Array): boolean {
  const udpLen = (f[L4_OFF + 4]! << 8) | f[L4_OFF + 5]!;
  const pseudo = [...f.slice(L3_OFF + 12, L3_OFF + 20), 0, 17, udpLen >> 8, udpLen & 0xff];
  return refSum(f.slice(L3_OFF, L3_OFF + 20)) === 0xffff && refSum([...pseudo, ...f.slice(L4_OFF, L4_OFF + udpLen)]) === 0xffff;
}

function gen(over: Partial<GenWireSpec> = {}): GenWireSpec {
  return {
    kind: "gen", frameLengths: [60], count: null, rate: null, flows: 1, srcMac: null,
    dstMac: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], timestamp: false, seed: null, check: false, latency: false, ...over,
  };
}

function setup(spec: GenWireSpec, deviceIndex = 3) {
  const mem = Memory.create(1 << 20);
  const stats = mem.reserve("stats", WIRE_STATS_BYTES);
  const buf = mem.reserve("buf", 16384);
  const wire = createWire(spec, mem, stats.offset, deviceIndex);
  const take = (): Uint8Array => {
    const len = wire.frameLength();
    wire.produce(mem.u8, buf.offset);
    return mem.u8.slice(buf.offset, buf.offset + len);
  };
  const inject = (f: Uint8Array, now = 0): void => {
    mem.u8.set(f, buf.offset + 8192);
    consumeAt(wire, mem.u8, buf.offset + 8192, f.length, now);
  };
  return { mem, wire, take, inject, stats: () => readWireStats(mem, stats.offset) };
}

describe("wire=gen frames", () => {
  it("are valid UDP frames with patched port, sequence, timestamp and checksum", () => {
    const { wire, take } = setup(gen({ frameLengths: [60, 508, 1514, 61], flows: 5, timestamp: true }), 7);
    let now = 1000.25;
    for (let k = 0; k < 2000; k++) {
      if (k % 10 === 0) now += 0.137;
      expect(readyAt(wire, now)).toBeGreaterThan(0);
      const f = take();
      expect(f.length).toBe([60, 508, 1514, 61][k % 4]);
      expect(checksumsValid(f)).toBe(true);
      expect(readU16(f, L4_OFF)).toBe(9 + (k % 5));
      expect(readU16(f, PAYLOAD_OFF + PL_STREAM)).toBe(7);
      expect(readU32(f, PAYLOAD_OFF + PL_SEQ)).toBe(k);
      expect(readF64(f, PAYLOAD_OFF + PL_TIMESTAMP)).toBe(performance.timeOrigin + now);
      expect([...f.slice(6, 12)]).toEqual([2, 0, 0, 0, 1, 7]); // default source MAC for device 7
    }
  });

  it.each([
    { flows: 1, timestamp: false },
    { flows: 300, timestamp: true },
  ])("write exactly the frame's bytes, the same at any alignment (word copy or not): %o", (over) => {
    const lengths = [60, 61, 62, 63, 255, 257, 1514];
    const mem = Memory.create(1 << 20);
    const stats = mem.reserve("stats", WIRE_STATS_BYTES);
    const buf = mem.reserve("buf", 8192);
    const wire = createWire(gen({ frameLengths: lengths, ...over }), mem, stats.offset, 1);
    const ref = createWire(gen({ frameLengths: lengths, ...over }), mem, mem.reserve("stats2", WIRE_STATS_BYTES).offset, 1);
    // Sequence numbers with all four bytes set (and crossing 2^31): the word path stores them byte-swapped.
    const seq0 = 0x8182837e;
    (wire as unknown as { seq: number }).seq = seq0 | 0;
    (ref as unknown as { seq: number }).seq = seq0 | 0;
    const refBuf = new Uint8Array(2048);
    for (let k = 0; k < 4 * lengths.length; k++) {
      const len = wire.frameLength();
      const at = buf.offset + 64 + (k % 4); // aligned, then 1-3 bytes off
      mem.u8.fill(0xaa, buf.offset, buf.offset + 4096);
      readyAt(wire, 0);
      wire.produce(mem.u8, at);
      // The reference produces into a private (non-shared) array: the byte path.
      readyAt(ref, 0);
      ref.produce(refBuf, 0);
      const f = mem.u8.slice(at, at + len);
      expect(f).toEqual(refBuf.slice(0, len));
      expect(checksumsValid(f)).toBe(true);
      expect(readU32(f, PAYLOAD_OFF + PL_SEQ)).toBe((seq0 + k) >>> 0);
      expect(readU16(f, L4_OFF)).toBe(9 + (k % over.flows));
      expect(mem.u8[at - 1]).toBe(0xaa); // nothing before the frame...
      for (let b = 0; b < 8; b++) expect(mem.u8[at + len + b]).toBe(0xaa); // ...or after it
    }
  });

  it("leave the timestamp 0 without timestamp=1 and use the given MACs", () => {
    const { wire, take } = setup(gen({ srcMac: [2, 1, 2, 3, 4, 5], dstMac: [2, 9, 9, 9, 9, 9] }));
    readyAt(wire, 5);
    const f = take();
    expect(readF64(f, PAYLOAD_OFF + PL_TIMESTAMP)).toBe(0);
    expect([...f.slice(0, 12)]).toEqual([2, 9, 9, 9, 9, 9, 2, 1, 2, 3, 4, 5]);
    expect(checksumsValid(f)).toBe(true);
  });

  it("stay valid for large sequence numbers and across the wrap at 2^32", () => {
    const { wire, take } = setup(gen({ timestamp: true }));
    const seqOf = wire as unknown as { seq: number }; // reach big numbers without billions of frames
    for (const start of [0x00123456, 0x12345678, 0x8000fffe, 0xfffffffd]) {
      seqOf.seq = start;
      for (let k = 0; k < 5; k++) {
        readyAt(wire, k);
        const f = take();
        expect(checksumsValid(f)).toBe(true);
        expect(readU32(f, PAYLOAD_OFF + PL_SEQ)).toBe((start + k) >>> 0);
      }
    }
  });

  it("cover every flow with 65536 flows, wrapping the source port", () => {
    const { wire, take } = setup(gen({ flows: 65536 }));
    const seen = new Uint8Array(65536);
    for (let k = 0; k < 65536; k++) {
      readyAt(wire, 0);
      const f = take();
      seen[readU16(f, L4_OFF)] = 1;
      if (k > 65520) expect(checksumsValid(f)).toBe(true); // ports past 65535 wrap to 0..8
    }
    expect(seen.every((x) => x === 1)).toBe(true);
  });

  it("with a seed, draw sizes and flows deterministically and cover them all", () => {
    const run = (seed: number) => {
      const { wire, take } = setup(gen({ frameLengths: [60, 100, 200], flows: 4, seed }));
      const out: string[] = [];
      for (let k = 0; k < 300; k++) {
        readyAt(wire, 0);
        expect(wire.frameLength()).toBeGreaterThan(0);
        const f = take();
        expect(checksumsValid(f)).toBe(true);
        out.push(`${f.length}/${readU16(f, L4_OFF)}`);
      }
      return out;
    };
    const a = run(42);
    expect(run(42)).toEqual(a);
    expect(run(43)).not.toEqual(a);
    expect(new Set(a).size).toBe(12); // 3 sizes x 4 flows
    expect(a.slice(0, 12)).not.toEqual(run(0).slice(0, 12));
  });
});

describe("wire=gen pacing and accounting", () => {
  it("offers count frames unpaced, UNPACED_DUE at a time, then is exhausted", () => {
    const { wire, take, stats } = setup(gen({ count: 600 }));
    const dues: number[] = [];
    while (!wire.exhausted()) {
      const n = readyAt(wire, 0);
      dues.push(n);
      for (let i = 0; i < n; i++) take();
    }
    expect(dues).toEqual([UNPACED_DUE, UNPACED_DUE, 600 - 2 * UNPACED_DUE]);
    expect(readyAt(wire, 1)).toBe(0);
    const s = stats();
    expect(s).toMatchObject({ kind: "gen", generated: 600, missed: 0, generatedBytes: 600 * 60, exhausted: true });
  });

  it("keeps what the device does not take due", () => {
    const { wire, take } = setup(gen({ count: 10 }));
    expect(readyAt(wire, 0)).toBe(10);
    take();
    take();
    expect(readyAt(wire, 0)).toBe(8);
  });

  it("paces to rate= with a synthetic clock: frame k is due at t0 + k/rate", () => {
    const { wire, take } = setup(gen({ rate: 1000 })); // one per ms
    expect(readyAt(wire, 500)).toBe(1);
    take();
    expect(readyAt(wire, 500.9)).toBe(0);
    expect(readyAt(wire, 501)).toBe(1);
    expect(readyAt(wire, 510)).toBe(10); // not taken yet: all stay due
    for (let i = 0; i < 4; i++) take();
    expect(readyAt(wire, 510)).toBe(6);
  });

  it("never runs ahead of rate= and catches up over random clock steps", () => {
    const rate = 123_456;
    const { wire, take, stats } = setup(gen({ rate, count: 50_000 }));
    let t = 77.7;
    let t0 = NaN;
    let offered = 0;
    let rnd = 12345;
    while (!wire.exhausted()) {
      rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
      t += (rnd % 1000) / 10000; // 0 .. 0.1 ms
      if (Number.isNaN(t0)) t0 = t; // the wire's clock starts at its first ready()
      const n = readyAt(wire, t);
      const ideal = Math.min(50_000, Math.floor((t - t0) * rate / 1000) + 1);
      expect(offered + n).toBe(ideal);
      for (let i = 0; i < n; i++) {
        if (rnd & 1) take();
        else wire.drop();
      }
      offered += n;
    }
    expect(stats().generated).toBe(50_000);
    expect((t - t0) * rate / 1000).toBeGreaterThanOrEqual(49_999);
  });

  it("counts generated = produced + missed, bytes for both, and advances seq on drop", () => {
    const { wire, take, stats } = setup(gen({ frameLengths: [60, 1000], count: 1000 }));
    let produced = 0;
    let dropped = 0;
    let bytes = 0;
    let lastSeq = -1;
    for (let k = 0; k < 1000; k++) {
      expect(readyAt(wire, 0)).toBeGreaterThan(0);
      const len = wire.frameLength();
      expect(len).toBe(k % 2 ? 1000 : 60);
      bytes += len;
      if (k % 3 === 0) {
        wire.drop();
        dropped++;
      } else {
        const f = take();
        const seq = readU32(f, PAYLOAD_OFF + PL_SEQ);
        expect(seq).toBe(k);
        expect(seq).toBeGreaterThan(lastSeq);
        lastSeq = seq;
        produced++;
      }
    }
    const s = stats();
    expect(s.generated).toBe(produced + dropped);
    expect(s.missed).toBe(dropped);
    expect(s.generatedBytes).toBe(bytes);
    expect(s.exhausted).toBe(true);
    expect(wire.exhausted()).toBe(true);
  });

  it("is never exhausted without count", () => {
    const { wire, take } = setup(gen());
    for (let k = 0; k < 1000; k++) {
      expect(readyAt(wire, k)).toBe(UNPACED_DUE);
      take();
    }
    expect(wire.exhausted()).toBe(false);
  });

  it("counts and checks what the driver transmits to it, like a sink", () => {
    const a = setup(gen({ count: 5 }), 1);
    const b = setup(gen({ check: true }), 2);
    readyAt(a.wire, 0);
    for (let k = 0; k < 5; k++) {
      const f = a.take();
      if (k === 2) continue; // lost
      b.inject(f);
    }
    expect(b.stats()).toMatchObject({ received: 4, receivedBytes: 240, lost: 1, foreign: 0, badChecksum: 0 });
  });
});

describe("wire=gen produceRun (the device's RX fast run)", () => {
  const hex = (f: Uint8Array): string => Buffer.from(f).toString("hex");
  /** Buffers of `room` bytes each (4-aligned when `skew` is 0), their frames `hdr` bytes in. */
  function run(spec: GenWireSpec, lens: number[], hdr: number, maxFrame: number, skew = 0) {
    const s = setup(spec);
    const base = s.mem.reserve("run", 64 * 2048, 64).offset;
    const addrs = new Uint32Array(lens.map((_, j) => base + j * 2048 + skew));
    const room = new Uint32Array(lens);
    const n = s.wire.produceRun!(s.mem.u8, addrs, room, lens.length, hdr, maxFrame);
    const frames = [...Array(n).keys()].map((j) => hex(s.mem.u8.slice(addrs[j]! + hdr, addrs[j]! + room[j]!)));
    return { n, room: [...room], frames, stats: s.stats() };
  }
  /** The same frames from produce() one at a time. */
  function oneByOne(spec: GenWireSpec, k: number) {
    const s = setup(spec);
    const frames = [...Array(k).keys()].map(() => hex(s.take()));
    return { frames, stats: s.stats() };
  }

  it("writes the frames and counts produce() would, one call for the run", () => {
    for (const spec of [
      gen({ count: 1000 }),
      gen({ frameLengths: [60, 64, 508, 61], flows: 3 }),
      gen({ frameLengths: [60, 1514], seed: 5, flows: 7 }),
      gen({ timestamp: true }),
    ]) {
      for (const skew of [0, 2]) {
        const r = run(spec, Array(40).fill(2048), 12, 9000, skew);
        const ref = oneByOne(spec, 40);
        expect(r.n).toBe(40);
        expect(r.frames).toEqual(ref.frames);
        expect(r.room).toEqual(ref.frames.map((f) => 12 + f.length / 2));
        expect(r.stats).toEqual(ref.stats);
      }
    }
  });

  it("stops at the first buffer the next frame does not fit, or a frame above maxFrame, or count", () => {
    const short = run(gen({ frameLengths: [60, 508] }), [100, 600, 100, 100, 600], 12, 9000);
    expect(short.n).toBe(3); // the fourth buffer (100 bytes) is short for the 508-byte frame
    expect(short.room).toEqual([72, 520, 72, 100, 600]);
    expect(short.stats).toMatchObject({ generated: 3, generatedBytes: 60 + 508 + 60 });
    for (const lengths of [[60, 64], [60, 1514]]) {
      const big = run(gen({ frameLengths: lengths }), [2048, 2048, 2048], 12, lengths[1]! - 1);
      expect(big.n).toBe(1);
      expect(big.stats).toMatchObject({ generated: 1 });
    }
    const counted = run(gen({ count: 5 }), Array(8).fill(2048), 12, 9000);
    expect(counted.n).toBe(5);
    expect(counted.stats).toMatchObject({ generated: 5, exhausted: true });
  });
});

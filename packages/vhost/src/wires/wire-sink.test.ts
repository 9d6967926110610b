import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Memory } from "@tpdk/eal";
import { L4_OFF, PAYLOAD_OFF, buildUdpFrame } from "./frame.js";
import { MAX_STREAMS, SEQ_WINDOW } from "./wire-sink.js";
import { WIRE_STATS_BYTES, createWire, readWireStats, type SinkWireSpec, type WireStats } from "./wires.js";
import { readyAt, consumeAt } from "./at-time.js";
import { assertProperty } from "@tpdk/testing/property";

function setup(over: Partial<SinkWireSpec> = {}) {
  const mem = Memory.create(1 << 20);
  const stats = mem.reserve("stats", WIRE_STATS_BYTES);
  const buf = mem.reserve("buf", 16384);
  const wire = createWire({ kind: "sink", check: false, latency: false, ...over }, mem, stats.offset, 0);
  // Frames go through EAL memory at an odd offset, as a driver's buffer might be.
  const send = (f: Uint8Array, now = 0): void => {
    mem.u8.set(f, buf.offset + 3);
    consumeAt(wire, mem.u8, buf.offset + 3, f.length, now);
  };
  return { mem, wire, send, stats: (): WireStats => readWireStats(mem, stats.offset) };
}

/** Frames are built once per (stream, seq) and reused: the sink copies nothing. */
function frame(seq: number, stream = 1, length = 60, timestamp = 0): Uint8Array {
  return buildUdpFrame({ length, seq, stream, timestamp });
}

function sendSeqs(send: (f: Uint8Array) => void, seqs: number[], stream = 1): void {
  for (const s of seqs) send(frame(s, stream));
}

describe("wire=sink", () => {
  it("offers nothing and is exhausted from the start", () => {
    const { wire, stats } = setup();
    expect(readyAt(wire, 0)).toBe(0);
    expect(wire.exhausted()).toBe(true);
    expect(stats()).toMatchObject({ kind: "sink", generated: 0, exhausted: true });
    expect(stats().latency).toBeUndefined();
  });

  it("counts frames and bytes, ours and foreign", () => {
    const { send, stats } = setup();
    send(frame(0, 1, 60));
    send(frame(1, 1, 1514));
    const arp = new Uint8Array(60);
    arp[12] = 0x08;
    arp[13] = 0x06;
    send(arp);
    const notOurs = frame(2);
    notOurs[PAYLOAD_OFF] = 0; // no magic
    send(notOurs);
    expect(stats()).toMatchObject({ received: 4, receivedBytes: 60 + 1514 + 60 + 60, foreign: 2, lost: 0 });
  });

  it("detects lost, reordered and duplicated frames in a crafted sequence", () => {
    const { send, stats } = setup();
    sendSeqs(send, [0, 1, 2, 4]); // 3 missing
    expect(stats()).toMatchObject({ lost: 1, reordered: 0, duplicated: 0 });
    sendSeqs(send, [3]); // late: fills the gap
    expect(stats()).toMatchObject({ lost: 0, reordered: 1, duplicated: 0 });
    sendSeqs(send, [3, 4, 0]); // all seen before
    expect(stats()).toMatchObject({ lost: 0, reordered: 1, duplicated: 3 });
    sendSeqs(send, [8, 6]); // 5 and 7 missing, 6 late
    expect(stats()).toMatchObject({ lost: 2, reordered: 2, duplicated: 3, received: 10 });
  });

  it("counts frames missing before the first one as lost (streams start at 0)", () => {
    const { send, stats } = setup();
    sendSeqs(send, [5, 6]);
    expect(stats().lost).toBe(5);
  });

  it("tracks streams independently", () => {
    const { send, stats } = setup();
    for (let k = 0; k < 100; k++) {
      send(frame(k, 1));
      if (k % 10 !== 9) send(frame(k, 2)); // stream 2 loses 10 (the last one is a gap only once 100 arrives)
      if (k % 2 === 0) send(frame(k >> 1, 3)); // stream 3: 0..49
    }
    send(frame(100, 2));
    expect(stats()).toMatchObject({ lost: 10, reordered: 0, duplicated: 0, untracked: 0 });
  });

  it("tracks MAX_STREAMS streams, then counts the rest as untracked", () => {
    const { send, stats } = setup();
    for (let s = 0; s < MAX_STREAMS + 5; s++) sendSeqs(send, [0, 2], s);
    expect(stats()).toMatchObject({ lost: MAX_STREAMS, untracked: 10, received: 2 * (MAX_STREAMS + 5) });
  });

  it("handles gaps wider than the window and frames older than it", () => {
    const { send, stats } = setup();
    sendSeqs(send, [0, 5000]);
    expect(stats().lost).toBe(4999);
    sendSeqs(send, [4990, 4990]); // late within the window, then a duplicate
    expect(stats()).toMatchObject({ lost: 4998, reordered: 1, duplicated: 1 });
    sendSeqs(send, [10]); // beyond the window: taken as late
    expect(stats()).toMatchObject({ lost: 4997, reordered: 2, duplicated: 1 });
  });

  it("follows the sequence across the 2^32 wrap", () => {
    const { send, stats } = setup();
    // Walk a stream up to near the wrap in steps below 2^31 (each a gap), then cross it.
    sendSeqs(send, [0, 0x7fffffff, 0xfffffffe]);
    const lostBefore = stats().lost;
    sendSeqs(send, [0xffffffff, 0, 1, 3, 2]);
    expect(stats()).toMatchObject({ lost: lostBefore, reordered: 1, duplicated: 0 });
  });

  it("matches a reference model on random drops, duplicates and bounded reordering", () => {
    // Bounded (@tpdk/testing/property): a case ~1.8 ms alone, ~32 ms with two CPU hogs at autogroup -10
    // (session 29); at least 40 cases (~75 ms of CPU alone).
    assertProperty(
      fc.property(
        fc.integer({ min: 1, max: SEQ_WINDOW - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(2)), { maxLength: 400 }),
        (n, edits) => {
          // Start from 0..n-1, then drop / duplicate / swap. With n < SEQ_WINDOW no frame
          // can arrive more than a window behind, so exact sets are the reference.
          const seqs = Array.from({ length: n }, (_, i) => i);
          for (const [pos, op] of edits) {
            const i = pos % seqs.length;
            if (seqs.length === 1) break;
            if (op === 0) seqs.splice(i, 1);
            else if (op === 1) seqs.splice(i, 0, seqs[i]!);
            else {
              const j = (pos >> 3) % seqs.length;
              [seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!];
            }
          }
          // Reference: exact sets (the displacements stay inside the window).
          const seen = new Set<number>();
          let max = -1;
          let reordered = 0;
          let duplicated = 0;
          for (const s of seqs) {
            if (seen.has(s)) duplicated++;
            else if (s < max) reordered++;
            seen.add(s);
            if (s > max) max = s;
          }
          const lost = max + 1 - seen.size;
          const { send, stats } = setup();
          sendSeqs(send, seqs);
          expect(stats()).toMatchObject({ lost, reordered, duplicated, received: seqs.length });
        },
      ),
      { numRuns: 60, seed: 2902, limitMs: 20_000, minCases: 40 },
    );
  }, 60_000);

  it("check=1 counts bad IPv4 and UDP checksums of our frames only", () => {
    const { send, stats } = setup({ check: true });
    send(frame(0, 1, 200));
    const badUdp = frame(1, 1, 200);
    badUdp[150]! ^= 1;
    send(badUdp);
    const badIp = frame(2, 1, 200);
    badIp[22]! ^= 1; // TTL
    send(badIp);
    const foreign = frame(3, 1, 200);
    foreign[PAYLOAD_OFF + 1]! ^= 1; // not our magic (and a wrong checksum): foreign, not bad
    send(foreign);
    const noCsum = frame(4, 1, 200);
    noCsum[L4_OFF + 6] = 0;
    noCsum[L4_OFF + 7] = 0;
    send(noCsum);
    expect(stats()).toMatchObject({ badChecksum: 2, foreign: 1, received: 5 });
  });

  it("without check=1 does not look at checksums", () => {
    const { send, stats } = setup();
    const bad = frame(0, 1, 200);
    bad[150]! ^= 1;
    send(bad);
    expect(stats().badChecksum).toBe(0);
  });

  it("latency=1 records send-to-receive latency of timestamped frames", () => {
    const { send, stats } = setup({ latency: true });
    const now = 1000; // the device's clock reading for the pass, ms
    const abs = performance.timeOrigin + now;
    const lat = [3, 5, 8, 12, 20, 50, 100, 250, 1000, 4000]; // µs
    for (let k = 0; k < lat.length; k++) send(frame(k, 1, 60, abs - lat[k]! / 1000), now);
    send(frame(lat.length, 1, 60, 0), now); // no timestamp: not recorded
    const l = stats().latency!;
    expect(l.count).toBe(lat.length);
    // Timestamps are absolute ms (~1.7e12): f64 keeps them to ~0.25 µs.
    const tol = (x: number) => x / 64 + 0.5;
    expect(Math.abs(l.p50 - 20)).toBeLessThanOrEqual(tol(20)); // rank ceil(0.5 * 10) = 5
    expect(Math.abs(l.p99 - 4000)).toBeLessThanOrEqual(tol(4000));
    expect(Math.abs(l.max - 4000)).toBeLessThanOrEqual(0.5);
  });
});

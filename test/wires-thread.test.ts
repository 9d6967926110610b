// Wires across threads, as the device uses them: the spec is parsed and
// validated on the main thread, structured-cloned to another thread, the live
// wire runs there against EAL memory, and the main thread reads the stats
// block while it runs. Its threads load the compiled dist/ (the test command builds first).
import { afterAll, describe, expect, it } from "vitest";
import { distUrl, ownedTempDir } from "@tpdk/testing/e2e";
import { Worker } from "node:worker_threads";
import * as fs from "node:fs";
import * as path from "node:path";
import { Memory } from "@tpdk/eal";
import {
  PAYLOAD_OFF, PL_SEQ, WIRE_STATS_BYTES, consumeAt, createWire, readPcap, readWireStats,
} from "@tpdk/vhost";
import { wireSpec as specOf } from "@tpdk/testing/vhost";

const EAL_URL = distUrl("@tpdk/eal");
const WIRES_URL = distUrl("@tpdk/vhost");
const FIXTURE = new URL("./fixtures/wires/le-us.pcap", import.meta.url).pathname;
const tmp = ownedTempDir("wires-thread");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * A stand-in for the device thread: builds wire A (offering) and wire B
 * (receiving) from cloned specs and moves every due frame from A to B through
 * a buffer in EAL memory, dropping every `dropEvery`-th frame as "no buffer".
 * Or, with `slots`, only produces frames from A into consecutive slots.
 */
const DEVICE = `
const { workerData, parentPort } = require("node:worker_threads");
(async () => {
  const { Memory } = await import(workerData.ealUrl);
  const { createWire, readyAt, consumeAt } = await import(workerData.wiresUrl);
  const { sab, a, b, statsA, statsB, buf, dropEvery, slots } = workerData;
  const mem = Memory.attach(sab);
  const A = createWire(a, mem, statsA, 1);
  const B = b ? createWire(b, mem, statsB, 2) : null;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let k = 0;
  while (!A.exhausted()) {
    const n = readyAt(A, performance.now());
    for (let i = 0; i < n; i++, k++) {
      if (slots) { A.produce(mem.u8, buf + k * 128); continue; }
      if (dropEvery && k % dropEvery === dropEvery - 1) { A.drop(); continue; }
      const len = A.frameLength();
      A.produce(mem.u8, buf);
      consumeAt(B, mem.u8, buf, len, performance.now());
    }
    if (n === 0) Atomics.wait(sleeper, 0, 0, 0.05); // paced and nothing due: sleep 50 µs
  }
  A.close();
  if (B) B.close();
  parentPort.postMessage("done");
})().catch((e) => { parentPort.postMessage("error: " + (e && e.stack || e)); });
`;

function runDevice(data: Record<string, unknown>, onTick?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(DEVICE, { eval: true, workerData: { ealUrl: EAL_URL, wiresUrl: WIRES_URL, ...data } });
    const timer = onTick ? setInterval(onTick, 1) : undefined;
    const stop = (err?: Error) => {
      if (timer) clearInterval(timer);
      void w.terminate();
      if (err) reject(err);
      else resolve();
    };
    w.on("message", (m: string) => {
      if (m === "done") stop();
      else if (m.startsWith("error")) stop(new Error(m));
    });
    w.on("error", (e) => stop(e));
  });
}

function memWith() {
  const mem = Memory.create(16 << 20);
  const statsA = mem.reserve("wire.a.stats", WIRE_STATS_BYTES).offset;
  const statsB = mem.reserve("wire.b.stats", WIRE_STATS_BYTES).offset;
  const buf = mem.reserve("frames", 1 << 20).offset;
  return { mem, statsA, statsB, buf };
}

describe("wires across threads", () => {
  it("gen -> sink on another thread; the main thread reads stats while it runs", async () => {
    const { mem, statsA, statsB, buf } = memWith();
    const a = specOf("virtio1,wire=gen,size=64:128:1518,count=20000,flows=16,timestamp=1,seed=5");
    const b = specOf("virtio2,wire=sink,check=1,latency=1");
    let last = 0;
    await runDevice({ sab: mem.sab, a, b, statsA, statsB, buf, dropEvery: 100 }, () => {
      const s = readWireStats(mem, statsA);
      expect(s.generated).toBeGreaterThanOrEqual(last); // monotonic while running
      last = s.generated;
    });
    const ga = readWireStats(mem, statsA);
    const sb = readWireStats(mem, statsB);
    expect(ga).toMatchObject({ kind: "gen", generated: 20000, missed: 200, exhausted: true });
    expect(sb).toMatchObject({
      kind: "sink", received: 19800, lost: 199, reordered: 0, duplicated: 0, badChecksum: 0, foreign: 0, untracked: 0,
    }); // the 200th drop is the last frame: a tail loss no sink can see
    expect(sb.latency!.count).toBe(19800);
    expect(sb.latency!.max).toBeLessThan(10_000_000); // µs: same-thread send and receive
  });

  it("timestamps are absolute: a frame sent on one thread and received on another has a positive latency", async () => {
    const { mem, statsA, statsB, buf } = memWith();
    const a = specOf("virtio1,wire=gen,count=1000,timestamp=1");
    await runDevice({ sab: mem.sab, a, statsA, buf, slots: true });
    // Receive on the main thread, with the main thread's own clock.
    const sink = createWire(specOf("virtio2,latency=1,check=1"), mem, statsB, 2);
    for (let k = 0; k < 1000; k++) consumeAt(sink, mem.u8, buf + k * 128, 60, performance.now());
    const s = readWireStats(mem, statsB);
    expect(s).toMatchObject({ received: 1000, lost: 0, badChecksum: 0 });
    expect(s.latency!.count).toBe(1000);
    // A clock mismatch between threads would show as 0 (clamped negatives) or as huge values.
    expect(s.latency!.p50).toBeGreaterThan(0);
    expect(s.latency!.max).toBeLessThan(60_000_000);
    const seq = (k: number) => mem.u8[buf + k * 128 + PAYLOAD_OFF + PL_SEQ + 3];
    expect([seq(0), seq(1), seq(255)]).toEqual([0, 1, 255]);
  });

  it("pcap in and out on another thread: rx_pcap frames land in tx_pcap unchanged", async () => {
    const { mem, statsA, statsB, buf } = memWith();
    const out = path.join(tmp, "out.pcap");
    const a = specOf(`virtio1,wire=pcap,rx_pcap=${FIXTURE}`);
    const b = specOf(`virtio2,wire=pcap,tx_pcap=${out}`);
    await runDevice({ sab: mem.sab, a, b, statsA, statsB, buf });
    expect(readWireStats(mem, statsA)).toMatchObject({ kind: "pcap", generated: 3, exhausted: true });
    expect(readWireStats(mem, statsB)).toMatchObject({ kind: "pcap", received: 3, foreign: 3, writeErrors: 0 });
    const want = readPcap(FIXTURE).records.map((r) => [...r.data]);
    expect(readPcap(out).records.map((r) => [...r.data])).toEqual(want);
  });

  it("paced gen on another thread offers exactly count frames", async () => {
    const { mem, statsA, statsB, buf } = memWith();
    const a = specOf("virtio1,wire=gen,count=300,rate=20000");
    const b = specOf("virtio2,wire=sink");
    await runDevice({ sab: mem.sab, a, b, statsA, statsB, buf });
    expect(readWireStats(mem, statsA)).toMatchObject({ generated: 300, missed: 0 });
    expect(readWireStats(mem, statsB)).toMatchObject({ received: 300, lost: 0 });
  });
});

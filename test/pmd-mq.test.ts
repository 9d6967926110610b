// Multiqueue end to end, across threads: one vhost device with 2 queue
// pairs on its device thread, a gen wire with several UDP flows, the driver
// enabling both pairs with VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, and two worker
// threads, each polling its own RX queue and sending what it receives on its
// own TX queue. Every frame is accounted for, each flow stays on one queue in
// order, and every mbuf comes back. Its threads load the compiled dist/ (the test
// command builds first).
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { distUrl } from "@tpdk/testing/e2e";
import { Memory } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { Vhost, parseWireSpec } from "@tpdk/vhost";
import { VirtioPort } from "@tpdk/virtio-pmd";
import * as v from "@tpdk/virtio";

const EAL_URL = distUrl("@tpdk/eal");
const PMD_URL = distUrl("@tpdk/virtio-pmd");
const MBUF_URL = distUrl("@tpdk/mbuf");

const FLOWS = 12;
const FRAMES = 30_000;
/** UDP source port of flow 0 in gen frames (frame.ts DEFAULT_UDP_PORT), and where port and sequence number sit. */
const SPORT_OFF = 34;
const SEQ_OFF = 42 + 6;

/**
 * An lcore stand-in: polls RX queue `q` of port 0, checks each frame's flow
 * (UDP source port) and sequence number, and transmits every frame on TX
 * queue `q` (retrying while the ring is full). Spins a little when idle, then
 * naps (the machine has 2 CPUs). Stops when the stop word is set and its
 * queue has been quiet; reports what it saw.
 */
const LCORE = `
const { workerData, parentPort } = require("node:worker_threads");
(async () => {
  const { Memory } = await import(workerData.ealUrl);
  const { Mbufs } = await import(workerData.mbufUrl);
  const { attachRxQueue, attachTxQueue, bindThreadMemory } = await import(workerData.pmdUrl);
  const { sab, q, stopIndex, sportOff, seqOff } = workerData;
  const mem = Memory.attach(sab);
  bindThreadMemory(mem);
  const mbufs = new Mbufs(mem);
  const rxq = attachRxQueue(mem, 0, q); // split or packed, as the port negotiated
  const txq = attachTxQueue(mem, 0, q);
  const arr = new Uint32Array(32);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const last = new Map(); // flow -> last sequence number seen on this queue
  const first = new Map(); // flow -> first sequence number seen on this queue
  const count = new Map(); // flow -> frames of it on this queue
  let received = 0, sent = 0, outOfOrder = 0, idle = 0;
  const u8 = mem.u8;
  for (;;) {
    const n = rxq.rxBurst(arr, 32);
    if (n === 0) {
      if (Atomics.load(mem.i32, stopIndex) !== 0 && ++idle > 200) break;
      if (++idle > 64) Atomics.wait(nap, 0, 0, 0.2);
      continue;
    }
    idle = 0;
    for (let i = 0; i < n; i++) {
      const a = mbufs.dataAddr(arr[i]);
      const flow = (u8[a + sportOff] << 8) | u8[a + sportOff + 1];
      const seq = ((u8[a + seqOff] << 24) | (u8[a + seqOff + 1] << 16) | (u8[a + seqOff + 2] << 8) | u8[a + seqOff + 3]) >>> 0;
      const prev = last.get(flow);
      if (prev !== undefined && seq <= prev) outOfOrder++;
      if (prev === undefined) first.set(flow, seq);
      last.set(flow, seq);
      count.set(flow, (count.get(flow) || 0) + 1);
    }
    received += n;
    let k = 0, spins = 0;
    while (k < n) {
      const m = txq.txBurst(arr, n - k, k);
      k += m;
      if (m === 0 && ++spins > 16) Atomics.wait(nap, 0, 0, 0.05);
    }
    sent += n;
  }
  const flows = [...last.keys()].map((f) => ({ flow: f, first: first.get(f), last: last.get(f), n: count.get(f) }));
  parentPort.postMessage({ q, received, sent, outOfOrder, flows });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

interface LcoreReport {
  q: number;
  received: number;
  sent: number;
  outOfOrder: number;
  /** Per flow (UDP source port) seen on this queue: first and last sequence number, frames. */
  flows: { flow: number; first: number; last: number; n: number }[];
  error?: string;
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (cleanup) await cleanup();
  cleanup = null;
});

describe("multiqueue across threads", () => {
  // linkUpAtStart false: the link comes up only after start(), so no frame arrives before VQ_PAIRS_SET.
  // packed: packed rings (virtio 1.2 §2.8) for every queue, the control queue included.
  it.each([
    { linkUpAtStart: true, packed: false },
    { linkUpAtStart: false, packed: false },
    { linkUpAtStart: true, packed: true },
    { linkUpAtStart: false, packed: true },
  ])("two lcores, two queue pairs: every frame accounted for, one flow per queue in order, every mbuf back (link up at start: $linkUpAtStart, packed: $packed)", async ({ linkUpAtStart, packed }) => {
    const mem = Memory.create(64 << 20);
    const vhost = new Vhost(mem, { maxSleepMs: 1 });
    const wire = parseWireSpec("virtio0", new Map([["wire", "gen"], ["count", String(FRAMES)], ["flows", String(FLOWS)], ["check", "1"]]));
    const dev = vhost.addDevice({ name: "virtio0", wire, queuePairs: 2, linkUp: linkUpAtStart, ...(packed ? { offer: { RING_PACKED: true } } : {}) });
    await vhost.start();
    const port = VirtioPort.probe(mem, { portId: 0, transportOffset: dev.transportOffset, options: { queueSize: 256, ...(packed ? { packedVq: true } : {}) } });
    const workers: Worker[] = [];
    cleanup = async () => {
      for (const w of workers) await w.terminate();
      try {
        port.close();
      } catch {
        // already closed
      }
      await vhost.stop().catch(() => {});
    };
    expect(v.featureNames(port.features())).toEqual(expect.arrayContaining(packed ? ["CTRL_VQ", "MQ", "RING_PACKED"] : ["CTRL_VQ", "MQ"]));
    expect(port.packed).toBe(packed);
    expect(port.maxQueuePairs).toBe(2);
    const pool = Mempool.create(mem, "mq", { n: 4096, cacheSize: 0 });
    port.configure(2, 2);
    for (const q of [0, 1]) {
      port.rxQueueSetup(q, { pool });
      port.txQueueSetup(q);
    }
    port.start(); // sends VQ_PAIRS_SET(2)
    if (!linkUpAtStart) dev.setLinkUp(true);
    expect(dev.stats().ctrlCommands).toBe(1);
    expect(dev.stats().ctrlErrors).toBe(0);

    const stop = mem.reserve("test.stop", 64).offset;
    const reports = await new Promise<LcoreReport[]>((resolve, reject) => {
      const got: LcoreReport[] = [];
      for (const q of [0, 1]) {
        const w = new Worker(LCORE, {
          eval: true,
          workerData: { ealUrl: EAL_URL, mbufUrl: MBUF_URL, pmdUrl: PMD_URL, sab: mem.sab, q, stopIndex: stop >>> 2, sportOff: SPORT_OFF, seqOff: SEQ_OFF },
        });
        workers.push(w);
        w.on("message", (m: LcoreReport) => {
          if (m.error) reject(new Error(m.error));
          got.push(m);
          if (got.length === 2) resolve(got.sort((a, b) => a.q - b.q));
        });
        w.on("error", reject);
      }
      // Main thread: wait until the wire has offered everything and the device took every TX chain back,
      // then tell the lcores to finish (bounded: 60 s).
      const deadline = Date.now() + 60_000;
      const timer = setInterval(() => {
        const done = dev.inputExhausted() && dev.stats().txPackets >= FRAMES;
        if (done || Date.now() > deadline) {
          clearInterval(timer);
          Atomics.store(mem.i32, stop >>> 2, 1);
        }
      }, 20);
    });

    const ws = dev.wireStats();
    const ds = dev.stats();
    // The wire offered FRAMES; unpaced gen is lossless: none missed, all received by the two lcores.
    expect(ws.generated).toBe(FRAMES);
    expect(ws.missed).toBe(0);
    expect(ds.rxPackets).toBe(FRAMES);
    expect(reports[0]!.received + reports[1]!.received).toBe(FRAMES);
    // Both queues carried traffic, and every frame came back through the device to the wire, intact.
    expect(reports[0]!.received).toBeGreaterThan(0);
    expect(reports[1]!.received).toBeGreaterThan(0);
    expect(reports[0]!.sent + reports[1]!.sent).toBe(FRAMES);
    expect(ds.txPackets).toBe(FRAMES);
    expect(ws.received).toBe(FRAMES);
    expect(ws.badChecksum).toBe(0);
    expect(ws.duplicated).toBe(0);
    // Steering: in order on each queue. The device uses only pair 0 until it has taken VQ_PAIRS_SET
    // (§5.1.6.5.5), and the RX rings were filled before DRIVER_OK, so frames of any flow may land on
    // queue 0 in that window (at most one ring's worth); after it each flow stays on one queue.
    for (const r of reports) expect(r.outOfOrder).toBe(0);
    const q0 = new Map(reports[0]!.flows.map((f) => [f.flow, f]));
    const q1 = new Map(reports[1]!.flows.map((f) => [f.flow, f]));
    expect(new Set([...q0.keys(), ...q1.keys()]).size).toBe(FLOWS);
    let early = 0;
    let split = 0;
    for (const [flow, b] of q1) {
      const a = q0.get(flow);
      if (a === undefined) continue;
      split++;
      expect(a.last).toBeLessThan(b.first); // queue 0 only before the switch, then queue 1 for good
      early += a.n;
    }
    expect(early).toBeLessThanOrEqual(256);
    if (!linkUpAtStart) expect(split).toBe(0); // nothing arrived before the switch: one flow, one queue
    expect(split).toBeLessThan(FLOWS);
    expect(q1.size).toBeGreaterThan(0);
    expect(q1.size).toBeLessThan(FLOWS);
    // The driver's per-queue counters agree with the lcores.
    const x = Object.fromEntries(port.xstats().map((s) => [s.name, s.value]));
    expect([x["rx_q0_good_packets"], x["rx_q1_good_packets"]]).toEqual([reports[0]!.received, reports[1]!.received]);
    expect([x["tx_q0_good_packets"], x["tx_q1_good_packets"]]).toEqual([reports[0]!.sent, reports[1]!.sent]);
    // No device errors, and every mbuf back in the pool after stop.
    expect(ds.errCtrlChain + ds.needsReset + ds.errInternal + ds.rxDropped).toBe(0);
    port.stop();
    expect(pool.available()).toBe(pool.size);
  });
});

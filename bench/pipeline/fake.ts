import type { RunConfig, RunResult } from "./types.js";

/**
 * Synthetic results for --fake (working on the reports without running the
 * pipeline): a simple cost model, ns per packet = per-burst cost / burst +
 * per-packet cost (+ path and size terms), with a little deterministic noise.
 * Nothing here is a measurement.
 */
export function fakeResult(c: RunConfig, rep: number): RunResult {
  const noise = 1 + 0.03 * Math.sin(c.burst * 7.1 + c.frameSize * 0.37 + rep * 2.3 + (c.inOrder ? 1 : 0) + (c.mrgRxbuf ? 2 : 0));
  const pathNs = c.txPath === "push" ? 0 : c.txPath === "indirect" ? 12 : 20;
  let ns = (60 + pathNs + 0.04 * c.frameSize + 280 / c.burst + (c.inOrder ? 0 : 8) + (c.mrgRxbuf ? 3 : 0)) * noise;
  let pps = 1e9 / ns;
  if (c.rate !== null && pps > c.rate) {
    pps = c.rate;
    ns = 1e9 / pps;
  }
  const windowMs = c.durationMs;
  const delivered = Math.round((pps * windowMs) / 1000);
  const generated = c.rate !== null ? delivered : delivered * 3;
  return {
    config: c,
    windowMs,
    w: {
      delivered,
      generated,
      rxMissed: generated - delivered,
      l2fwdRx: delivered,
      l2fwdTx: delivered,
      l2fwdDropped: 0,
      txDropped: 0,
      lost: c.rate !== null ? 0 : generated - delivered,
      reordered: 0,
      duplicated: 0,
      kicks: 0,
      traps: 0,
      interrupts: 0,
      txPush: c.txPath === "push" ? delivered : 0,
      txIndirect: c.txPath === "indirect" ? delivered : 0,
      txChained: c.txPath === "chained" ? delivered : 0,
      txRingFull: 0,
    },
    mpps: pps / 1e6,
    gbps: (pps * (c.frameSize + 20) * 8) / 1e9,
    nsPerPacket: ns,
    cpuShare: 1,
    attempts: 1,
    kicksPerPacket: 0,
    trapsPerPacket: 0,
    interruptsPerPacket: 0,
    lossPct: 0,
    rxMissPct: c.rate !== null ? 0 : 66.7,
    e2eLossPct: c.rate !== null ? 0 : 66.7,
    passesPerSec: pps / c.burst,
    pktsPerPass: c.burst,
    latency: c.kind === "latency" ? { count: delivered, mean: 4 * noise, p50: 3.5 * noise, p99: 9 * noise, p999: 14 * noise, max: 40 * noise } : null,
    gcWindow: { main: 0, lcore: 0, device: 0, maxPauseMs: 0 },
    gcTotal: { main: 1, lcore: 1, device: 1, maxPauseMs: 1 },
    gcComplete: true,
    windowEpochMs: [0, windowMs],
    gcMarks: [],
    features: ["MTU", "MAC", "MRG_RXBUF", "STATUS", "ANY_LAYOUT", "INDIRECT_DESC", "EVENT_IDX", "VERSION_1", "IN_ORDER"].filter(
      (f) => (f !== "MRG_RXBUF" || c.mrgRxbuf) && (f !== "IN_ORDER" || c.inOrder),
    ),
    lcoreCpu: 0,
    deviceCpu: 1,
    pinned: true,
    loadavg: 0,
  };
}

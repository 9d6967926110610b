/**
 * One pipeline run, in a process of its own (the parent spawns one per
 * configuration and repetition, so no run inherits another's heap, JIT state
 * or leftover threads):
 *
 *   gen wire -> device (vhost thread, CPU 1) -> virtio-pmd rx -> l2fwd loop
 *   (lcore 0, CPU 0) -> virtio-pmd tx -> device -> sink wire
 *
 * Both polling threads busy-poll. After `warmupMs` the counters are
 * snapshotted, again after `durationMs`; the result is the difference.
 *
 *   node --require bench/dist/pipeline/gc-probe.cjs bench/dist/pipeline/run-one.js '<RunConfig JSON>'
 *
 * Prints one line `TPDK-BENCH-RESULT {RunResult}` on stdout; exits 1 with a
 * message on stderr when the run fails.
 */
import { writeSync } from "node:fs";
import { loadavg } from "node:os";
import { BroadcastChannel } from "node:worker_threads";
import { Eal } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { VdevPorts, planVdevs } from "@tpdk/vdev";
import { type LcoreArg, readCounters, reserveStats } from "@tpdk/l2fwd";
import type { GcMark } from "./gc-probe.cjs";
import { RESULT_PREFIX, type RunConfig, type RunResult, type WindowCounters } from "./types.js";
import { CTL_PASSES, histWindow } from "@tpdk/vhost";
import { snapshotWire, type WireSnapshot } from "./wire-block.js";
import { validateRunConfig } from "./validate.js";

const GC_CHANNEL = "tpdk-bench-gc"; // gc-probe.cts
const MEMPOOL_CACHE_SIZE = 256;
/** Threads that spin all the time: the lcore and the device thread. */
const BUSY_THREADS = 2;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  t: number;
  /** CPU time of the whole process (every thread), µs. */
  cpu: number;
  gen: WireSnapshot;
  sink: WireSnapshot;
  l2fwd: { rx: number; tx: number; dropped: number };
  kicks: number;
  traps: number;
  interrupts: number;
  txDropped: number;
  tx: Map<string, number>;
  /** The device thread's pass counter (CTL_PASSES, modulo 2^30, stored at its ~1 ms tick). */
  devicePasses: number;
}

const USAGE =
  "usage: node bench/dist/pipeline/run-one.js '<RunConfig JSON>'\n" +
  "  e.g. '" +
  JSON.stringify({ kind: "throughput", burst: 32, txPath: "push", frameSize: 64, inOrder: true, mrgRxbuf: true, eventIdx: null, queueSize: 1024, rate: null, warmupMs: 1000, durationMs: 2000, memoryMb: 256 }) +
  "'\n  (bench/pipeline/types.ts RunConfig)\n" +
  "  Run bare it counts no GC: its gcWindow / gcTotal are 0 and gcComplete false whatever happened. The counts\n" +
  "  come from a parent (run.js through bench/pipeline/spawn.ts, or tools/lcore-gc.js), which runs it as\n" +
  "  node --expose-gc --trace-gc --require bench/dist/pipeline/gc-probe.cjs run-one.js ... (TPDK_BENCH_GC_PROBE=1)\n" +
  "  and attributes V8's --trace-gc lines to the threads and the window. For GC counts use those tools.";

/** The run's configuration from argv (cold): --help prints the usage; a bad one is one line, exit 2. */
function configFromArgs(): RunConfig {
  const raw = process.argv[2];
  if (raw === "--help" || raw === "-h") {
    console.log(USAGE);
    process.exit(0);
  }
  if (!raw) {
    console.error(USAGE);
    process.exit(2);
  }
  try {
    return validateRunConfig(JSON.parse(raw) as unknown);
  } catch (e) {
    console.error(`run-one: ${e instanceof Error ? e.message : String(e)} (--help shows the form)`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const cfg = configFromArgs();
  const load = loadavg()[0]!;
  const latency = cfg.kind === "latency";

  // Each thread's GC mark (gc-probe.cts); this thread's was made before the channel below existed.
  const gcMarks: GcMark[] = [];
  const own = (globalThis as { __tpdkBenchGcMark?: GcMark }).__tpdkBenchGcMark;
  if (own) gcMarks.push(own);
  const ch = new BroadcastChannel(GC_CHANNEL);
  ch.onmessage = (ev) => gcMarks.push((ev as { data: GcMark }).data);

  const eal = Eal.init({ lcores: [0], memoryMb: cfg.memoryMb, busyPoll: true });
  const drv =
    `queue_size=${cfg.queueSize},tx_mode=${cfg.txPath},in_order=${cfg.inOrder ? 1 : 0},mrg_rxbuf=${cfg.mrgRxbuf ? 1 : 0}` +
    (cfg.eventIdx === null ? "" : `,event_idx=${cfg.eventIdx ? 1 : 0}`) +
    // An A/B knob for driver keys the sweep does not vary (e.g. ",packed_vq=1"); the reports do not record it.
    (process.env.TPDK_BENCH_DRIVER_KEYS ?? "");
  const gen = `virtio0,wire=gen,size=${cfg.frameSize}${cfg.rate !== null ? `,rate=${cfg.rate}` : ""}${latency ? ",timestamp=1" : ""},${drv}`;
  const sink = `virtio1,wire=sink${latency ? ",latency=1" : ""},${drv}`;
  const plans = planVdevs([gen, sink]);
  const nbMbufs = Math.max(2 * (2 * cfg.queueSize + cfg.burst + MEMPOOL_CACHE_SIZE), 8192);
  const pool = Mempool.create(eal.mem, "mbuf_pool", { n: nbMbufs, cacheSize: MEMPOOL_CACHE_SIZE });
  const deviceCpu = eal.serviceCpu();
  const bus = await VdevPorts.start(eal.mem, plans, { deviceCpu, busyPoll: true });
  // This pipeline's two ports are built-in devices (gen and sink).
  const genDev = bus.devices[0]!;
  const sinkDev = bus.devices[1]!;
  const [rxPort, txPort] = bus.ports as [(typeof bus.ports)[0], (typeof bus.ports)[0]];
  for (const port of bus.ports) {
    port.configure(1, 1);
    port.rxQueueSetup(0, { nbDesc: cfg.queueSize, pool });
    port.txQueueSetup(0, { nbDesc: cfg.queueSize });
    port.start();
  }
  const genStats = genDev.config.wireStatsOffset;
  const sinkStats = sinkDev.config.wireStatsOffset;
  const statsOffset = reserveStats(eal.mem, 2);
  // The device thread's pass counter: the vhost control zone's word at CTL_PASSES.
  const devicePassesI = (eal.mem.zone("vhost.ctl").offset + CTL_PASSES) >>> 2;

  const snap = (): Snapshot => {
    const t = performance.now();
    const u = process.cpuUsage();
    const c = readCounters(eal.mem, statsOffset, [0, 1]);
    const d0 = genDev.stats();
    const d1 = sinkDev.stats();
    return {
      t,
      cpu: u.user + u.system,
      gen: snapshotWire(eal.mem, genStats, "gen", false),
      sink: snapshotWire(eal.mem, sinkStats, "sink", latency),
      l2fwd: { rx: c[0]!.rx + c[1]!.rx, tx: c[0]!.tx + c[1]!.tx, dropped: c[0]!.dropped + c[1]!.dropped },
      kicks: d0.kicks + d1.kicks,
      traps: d0.traps + d1.traps,
      interrupts: d0.interrupts + d1.interrupts,
      txDropped: d0.txDropped + d1.txDropped,
      tx: new Map(txPort.xstats().map((x) => [x.name, x.value])),
      devicePasses: Atomics.load(eal.mem.i32, devicePassesI),
    };
  };

  const arg: LcoreArg = {
    rxPorts: [0],
    dst: [1, 0],
    macs: bus.ports.map((p) => [...p.macAddr()]),
    macUpdating: true,
    burst: cfg.burst,
    statsOffset,
    drainPasses: 32,
    primePools: ["mbuf_pool"],
  };
  // TPDK_BENCH_LCORE_URL: another module exporting l2fwdLoop (experiments with a modified loop).
  const lcoreUrl = process.env.TPDK_BENCH_LCORE_URL || import.meta.resolve("@tpdk/l2fwd/lcore-loop");
  const tLaunch = performance.now();
  const infos = await eal.launch(lcoreUrl, "l2fwdLoop", () => arg);
  const failed = eal.wait();
  const guard = failed.then(
    () => {
      throw new Error("the l2fwd lcore returned before the run ended");
    },
    (e: unknown) => {
      throw e;
    },
  );
  guard.catch(() => {});
  const raced = async (ms: number): Promise<void> => {
    await Promise.race([sleep(ms), guard, bus.failed]);
  };

  snapshotWire(eal.mem, genStats, "gen", false); // throws unless these are the gen and sink wires
  snapshotWire(eal.mem, sinkStats, "sink", false);
  await raced(cfg.warmupMs);
  const s0 = snap();
  await raced(cfg.durationMs);
  const s1 = snap();

  eal.stop();
  const values = (await eal.wait()) as ({ passes: number } | undefined)[];
  const tStop = performance.now();
  const passes = values[0]?.passes ?? 0;
  const whole = readCounters(eal.mem, statsOffset, [0, 1]);
  const wholeRx = whole[0]!.rx + whole[1]!.rx;
  const features = txPort.info().features;
  await bus.close();
  await eal.close();
  ch.close();
  const leaked = pool.inUse();
  if (leaked !== 0) throw new Error(`${leaked} mbuf(s) were not returned to the pool`);
  void rxPort;

  const w = windowCounters(s0, s1);
  const windowMs = s1.t - s0.t;
  const devicePasses = (s1.devicePasses - s0.devicePasses) & 0x3fffffff;
  const pps = (w.delivered * 1000) / windowMs;
  const w0 = performance.timeOrigin + s0.t;
  const w1 = performance.timeOrigin + s1.t;
  const result: RunResult = {
    config: cfg,
    windowMs,
    w,
    mpps: pps / 1e6,
    gbps: (pps * (cfg.frameSize + 20) * 8) / 1e9,
    nsPerPacket: pps > 0 ? 1e9 / pps : 0,
    cpuShare: (s1.cpu - s0.cpu) / 1000 / (BUSY_THREADS * windowMs),
    attempts: 1,
    kicksPerPacket: w.delivered > 0 ? w.kicks / w.delivered : 0,
    trapsPerPacket: w.delivered > 0 ? w.traps / w.delivered : 0,
    interruptsPerPacket: w.delivered > 0 ? w.interrupts / w.delivered : 0,
    lossPct: w.l2fwdRx > 0 ? (100 * (w.l2fwdDropped + w.txDropped)) / w.l2fwdRx : 0,
    rxMissPct: w.generated > 0 ? (100 * w.rxMissed) / w.generated : 0,
    e2eLossPct: w.generated > 0 ? (100 * w.lost) / w.generated : 0,
    passesPerSec: (passes * 1000) / (tStop - tLaunch),
    pktsPerPass: passes > 0 ? wholeRx / passes : 0,
    devicePassesPerSec: (devicePasses * 1000) / windowMs,
    deviceFramesPerPass: devicePasses > 0 ? w.delivered / devicePasses : 0,
    latency: latency ? histWindow(s0.sink.hist!, s1.sink.hist!) : null,
    gcWindow: { main: 0, lcore: 0, device: 0, maxPauseMs: 0 },
    gcTotal: { main: 0, lcore: 0, device: 0, maxPauseMs: 0 },
    gcComplete: false,
    windowEpochMs: [w0, w1],
    gcMarks,
    features,
    lcoreCpu: infos[0]?.pinned ? infos[0].cpu : -1,
    deviceCpu,
    pinned: infos[0]?.pinned === true,
    loadavg: load,
  };
  const line = `${RESULT_PREFIX}${JSON.stringify(result)}\n`;
  try {
    writeSync(3, line); // the parent's result pipe: stdout carries V8's --trace-gc lines
  } catch {
    process.stdout.write(line);
  }
}

function windowCounters(a: Snapshot, b: Snapshot): WindowCounters {
  const tx = (name: string): number => (b.tx.get(name) ?? 0) - (a.tx.get(name) ?? 0);
  return {
    delivered: b.sink.received - a.sink.received,
    generated: b.gen.generated - a.gen.generated,
    rxMissed: b.gen.missed - a.gen.missed,
    l2fwdRx: b.l2fwd.rx - a.l2fwd.rx,
    l2fwdTx: b.l2fwd.tx - a.l2fwd.tx,
    l2fwdDropped: b.l2fwd.dropped - a.l2fwd.dropped,
    txDropped: b.txDropped - a.txDropped,
    lost: b.sink.lost - a.sink.lost,
    reordered: b.sink.reordered - a.sink.reordered,
    duplicated: b.sink.duplicated - a.sink.duplicated,
    kicks: b.kicks - a.kicks,
    traps: b.traps - a.traps,
    interrupts: b.interrupts - a.interrupts,
    txPush: tx("tx_q0_push_packets"),
    txIndirect: tx("tx_q0_indirect_packets"),
    txChained: tx("tx_q0_chained_packets"),
    txRingFull: tx("tx_q0_ring_full"),
  };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`run-one: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

import { type Check, checkConservation, checkDrift } from "./drift.js";
import { InprocL2fwd, sleep } from "./inproc-l2fwd.js";
import { type PhasePlan, phasePlan } from "./soak-plan.js";

export interface SoakOptions {
  /** Total wall time to aim for (s). */
  seconds: number;
  /** Phases (default: one per ~10 s, at least 2). */
  phases?: number;
  /** Port pairs per phase (default 3). */
  pairs?: number;
  /** Packets per second per generator (default 20k). */
  rate?: number;
  seed?: number;
  /** Progress lines (default: nothing). */
  log?: (line: string) => void;
}

export interface PhaseResult {
  plan: PhasePlan;
  seconds: number;
  generated: number;
  forwarded: number;
  missed: number;
  dropped: number;
  rxNombuf: number;
  txRingFull: number;
  /** Drift checks run (every 250 ms) and the bounds that failed. */
  driftChecks: number;
  drift: Check[];
  drained: boolean;
  conservation: string[];
  leaked: number;
  lcoreError: string | null;
}

export interface SoakReport {
  seed: number;
  phases: PhaseResult[];
  ok: boolean;
  /** One line per problem, empty when ok. */
  problems: string[];
}

/** Bring-up and tear-down of a phase (EAL, device thread, lcores) take about this long (s). */
const PHASE_OVERHEAD_S = 0.7;
/** Counter drift is checked this often while traffic flows (ms); progress is logged every second. */
const DRIFT_CHECK_MS = 250;
/** How long a phase may take to drain after its traffic time (ms). */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * A bounded soak of the whole pipeline: phases of l2fwd (in this process)
 * between paced generators on every port, each phase with other TX paths,
 * queue sizes, frame sizes, features, bursts and lcores. Four times a second the
 * counters of the wires, devices, driver and l2fwd are compared (drift.ts);
 * at the end of each phase, once drained, every frame must be accounted for
 * exactly and every mbuf back in the pool.
 */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const seed = (o.seed ?? 1) >>> 0;
  const nPhases = Math.max(1, o.phases ?? Math.max(2, Math.round(o.seconds / 10)));
  const phaseSeconds = o.seconds / nPhases;
  const trafficSeconds = Math.max(0.5, phaseSeconds - PHASE_OVERHEAD_S);
  const rate = o.rate ?? 20_000;
  const pairs = o.pairs ?? 3;
  const phases: PhaseResult[] = [];
  const problems: string[] = [];
  log(`soak: ${o.seconds} s, ${nPhases} phase(s) of ${trafficSeconds.toFixed(1)} s traffic, ${2 * pairs} ports at ${rate} pps each, seed ${seed}`);
  for (let i = 0; i < nPhases; i++) {
    const plan = phasePlan(i, { pairs, rate, trafficSeconds, seed });
    log(`phase ${i}: ${plan.describe}`);
    const r = await runPhase(plan, trafficSeconds, log);
    phases.push(r);
    const tag = `phase ${i}`;
    if (!r.drained) problems.push(`${tag}: did not drain within ${DRAIN_TIMEOUT_MS} ms`);
    for (const c of r.drift.slice(0, 20)) problems.push(`${tag}: drift on port ${c.port}: ${c.name}: ${c.bound} bound (up ${c.up}, down ${c.down}, cap ${c.cap})`);
    for (const c of r.conservation) problems.push(`${tag}: not conserved: ${c}`);
    if (r.leaked !== 0) problems.push(`${tag}: ${r.leaked} mbuf(s) leaked`);
    if (r.lcoreError) problems.push(`${tag}: lcore failed: ${r.lcoreError}`);
    log(
      `phase ${i}: ${r.seconds.toFixed(1)} s, generated ${r.generated}, forwarded ${r.forwarded}, missed ${r.missed}, dropped ${r.dropped}, ` +
        `rx_nombuf ${r.rxNombuf}, tx_ring_full ${r.txRingFull}, drift ${r.drift.length}/${r.driftChecks} checks, ` +
        `conservation ${r.conservation.length === 0 ? "ok" : "FAILED"}, leaked ${r.leaked}`,
    );
  }
  return { seed, phases, ok: problems.length === 0, problems };
}

async function runPhase(plan: PhasePlan, trafficSeconds: number, log: (line: string) => void): Promise<PhaseResult> {
  const t0 = performance.now();
  const app = await InprocL2fwd.start({ vdevs: plan.vdevs, lcores: plan.lcores, burst: plan.burst, portsPerLcore: Math.ceil(plan.vdevs.length / plan.lcores.length), memoryMb: 512 });
  const drift: Check[] = [];
  let driftChecks = 0;
  let drained = false;
  const end = performance.now() + trafficSeconds * 1000 + DRAIN_TIMEOUT_MS;
  let nextCheck = performance.now() + DRIFT_CHECK_MS;
  let nextLog = performance.now() + 1000;
  while (performance.now() < end) {
    await sleep(20);
    if (app.drained()) {
      drained = true;
      break;
    }
    const now = performance.now();
    if (now >= nextCheck) {
      nextCheck = now + DRIFT_CHECK_MS;
      driftChecks++;
      drift.push(...checkDrift(app));
    }
    if (now >= nextLog) {
      nextLog += 1000;
      const rx = app.appCounters().reduce((n, x) => n + x.rx, 0);
      log(`  ${((now - t0) / 1000).toFixed(1)} s: l2fwd rx ${rx}, drift ${drift.length}/${driftChecks} checks`);
    }
  }
  // Counted before stop(): closing the ports frees what the rings hold without counting it.
  const s = app.snapshot();
  const conservation = drained ? checkConservation(app, plan.count) : [];
  const sum = (f: (l: (typeof s)[number]) => number): number => s.reduce((n, l) => n + f(l), 0);
  const { leaked, lcoreError } = await app.stop();
  return {
    plan,
    seconds: (performance.now() - t0) / 1000,
    generated: sum((l) => l.wire.generated),
    forwarded: sum((l) => l.app.tx),
    missed: sum((l) => l.wire.missed),
    dropped: sum((l) => l.app.dropped),
    rxNombuf: sum((l) => l.driver.rxNombuf),
    txRingFull: sum((l) => l.driver.txRingFull),
    driftChecks,
    drift,
    drained,
    conservation,
    leaked,
    lcoreError: lcoreError ? String(lcoreError) : null,
  };
}

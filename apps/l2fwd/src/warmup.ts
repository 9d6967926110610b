import { launchedLcoreIdle, lcoreZoneOffset, parseDevargs } from "@tpdk/eal";
import { RATE_MAX } from "@tpdk/vhost";
import type { Mempool } from "@tpdk/mbuf";
import type { VdevPlan, VdevPorts } from "@tpdk/vdev";
import type { Eal } from "@tpdk/eal";
import type { LcoreArg } from "./lcore-loop.js";

/**
 * JIT warm-up: before the application's ports start, the forwarding lcores
 * run the forwarding loop over private built-in ports, fed by generators of
 * `frames` frames each, so that V8 has optimized the loop, rxBurst/txBurst,
 * the mempool and the device thread's RX/TX paths before the first real frame.
 *
 * Why: DPDK's l2fwd is compiled; its first poll runs at full speed. Here the
 * first ~100 ms of traffic (measured with --trace-opt: rxBurst, refillRing,
 * txBurst, processRx, freeBulk are optimized only then) run interpreted or
 * baseline code at a fraction of the steady-state rate, and a paced
 * generator of 2 Mpps against a 1024-entry ring (0.5 ms) misses most of
 * those frames.
 *
 * Optimized code is only worth having if the real ports do not throw it
 * away: V8 deoptimizes a function whose objects or paths differ from what it
 * was optimized for (--trace-deopt: "wrong map" when the device's wire is a
 * sink rather than a generator, "insufficient type feedback" for a paced
 * generator's branch, "wrong call target" for a closure of an earlier call).
 * So when every enabled port is a built-in gen or sink port (`pnpm demo`,
 * the benchmark's pipeline), the warm-up ports mirror them: the same wire
 * and driver keys (queue size, TX path, features, rate, check=), the same
 * pairing and lcores, only a finite count (and, for a generator paced below
 * WARMUP_MIN_RATE, that rate, so the warm-up stays short). Otherwise each
 * forwarding lcore gets a pair of unpaced generator ports (what the other
 * wires share with them: the loop, rxBurst/txBurst, the device's RX/TX).
 *
 * The mirrors run in three launches: the generators at RATE_MAX (the RX ring
 * overflows: the device's missed path, the sink's sequence gaps, full TX
 * rings), then twice at the user's rates, each paced launch ending with an
 * idle stretch (the lcores sleep in their Backoff, the device thread on its
 * doorbell, the drivers kick again). The second paced launch starts from that
 * idle state and runs the code compiled during the first two: a path first
 * taken there (a wake-up, a kick) deoptimizes during the warm-up rather than
 * after the real start, and the compile jobs requested during the first two
 * launches (on a loaded 2-CPU machine one takes 20-180 ms of wall time, on the
 * CPUs the pollers use) are done before the real ports start.
 *
 * The private ports are the last port ids (after the user's), never enabled
 * by -p, stopped after the warm-up; their counters are not printed. The cost
 * is the warm-up's time, hence off by default.
 */

/** The fallback pair's ring size: small (the code is the same for any size), so they hold few mbufs. */
export const WARMUP_QUEUE_SIZE = 256;
/** A mirror's rings hold at most this many entries (the same code runs; fewer mbufs sit in its rings). */
export const WARMUP_MAX_QUEUE_SIZE = 1024;
/** A mirrored generator paced below this runs at this rate (packets/s) during the warm-up. */
export const WARMUP_MIN_RATE = 1_000_000;
/** A warm-up (all phases and the settle) that has not finished by then is cut short (a starved machine): the app goes on. */
const WARMUP_MAX_MS = 10_000;
/**
 * An idle stretch lasts until every lcore of the launch has called Backoff.idle() past its spin
 * passes this many times since the phase's frames were all received (a count, not a time: the
 * sleeps grow from 20 µs to 1 ms, so 16 of them are ~10 ms and reach the longest sleep).
 */
export const WARMUP_IDLE_COUNT = 16;

/** One launch of the warm-up: who polls which warm-up ports, and which of them generate. */
export interface WarmupPhase {
  /** The phase's ports (started for it, stopped after). */
  readonly ports: number[];
  /** lcore -> the warm-up ports it polls. */
  readonly lcorePorts: Map<number, number[]>;
  /** The ports whose wire generates (the phase ends when each has offered `frames`, received or missed). */
  readonly gens: number[];
  /** After the frames, the lcores stay launched until each has gone idle (WARMUP_IDLE_COUNT). */
  readonly idleAfter: boolean;
}

/** The warm-up's ports: their --vdev strings (ids from firstPort on), where each forwards to, the phases. */
export interface WarmupPlan {
  /** The warm-up ports' --vdev strings, in port id order from `firstPort`. */
  readonly vdevs: string[];
  readonly firstPort: number;
  /** dst[p] for the warm-up ports p. */
  readonly dst: number[];
  readonly phases: WarmupPhase[];
  /** True when the ports mirror the user's (else: a pair of generators per lcore). */
  readonly mirrored: boolean;
}

/**
 * Plan the warm-up ports (cold): mirrors of the enabled ports when all of them
 * are built-in gen or sink ports and one generates, else a pair of unpaced
 * generators per forwarding lcore. `firstId` is a virtioN index no --vdev uses.
 */
export function planWarmup(
  plans: readonly VdevPlan[], enabled: readonly number[], dst: readonly number[], lcorePorts: ReadonlyMap<number, readonly number[]>,
  firstId: number, frames: number,
): WarmupPlan {
  const firstPort = plans.length;
  const mirrorable = enabled.every((p) => {
    const plan = plans[p]!;
    return plan.kind === "virtio" && (plan.wire.kind === "gen" || plan.wire.kind === "sink");
  }) && enabled.some((p) => { const plan = plans[p]!; return plan.kind === "virtio" && plan.wire.kind === "gen"; });
  const vdevs: string[] = [];
  const outDst: number[] = [];
  const phases: WarmupPhase[] = [];
  if (mirrorable) {
    // Three sets of mirrors, one launch each: first with every generator at
    // RATE_MAX (the RX ring overflows: the device's missed path, the sink's
    // sequence gaps, full TX rings), then twice at the user's rates (the paced
    // path as the real run will take it), each ending idle, the second one
    // starting from idle. A path first taken after the warm-up would
    // deoptimize the function it is in at the first hiccup.
    for (const overload of [true, false, false]) {
      const base = firstPort + vdevs.length;
      const warm = new Map(enabled.map((p, i) => [p, base + i]));
      const gens: number[] = [];
      for (const [i, p] of enabled.entries()) {
        const plan = plans[p]!;
        const wire = plan.kind === "virtio" ? plan.wire : null;
        const gen = wire?.kind === "gen";
        const rate = gen && wire?.kind === "gen" ? (overload ? RATE_MAX : wire.rate) : null;
        vdevs.push(mirrorVdev(plan.vdev, `virtio${firstId + vdevs.length}`, gen ? frames : null, rate));
        if (gen) gens.push(base + i);
        outDst[base + i] = warm.get(dst[p]!) ?? base + i;
      }
      const lcores = new Map<number, number[]>();
      for (const [lcore, ports] of lcorePorts) lcores.set(lcore, ports.map((p) => warm.get(p)!));
      phases.push({ ports: [...warm.values()], lcorePorts: lcores, gens, idleAfter: !overload });
    }
    return { vdevs, firstPort, dst: outDst, phases, mirrored: true };
  }
  const lcores = new Map<number, number[]>();
  const gens: number[] = [];
  let k = 0;
  for (const lcore of lcorePorts.keys()) {
    const a = firstPort + 2 * k;
    for (let j = 0; j < 2; j++) vdevs.push(`virtio${firstId + 2 * k + j},wire=gen,count=${frames},queue_size=${WARMUP_QUEUE_SIZE}`);
    lcores.set(lcore, [a, a + 1]);
    outDst[a] = a + 1;
    outDst[a + 1] = a;
    gens.push(a, a + 1);
    k++;
  }
  return { vdevs, firstPort, dst: outDst, phases: [{ ports: gens.slice(), lcorePorts: lcores, gens, idleAfter: true }], mirrored: false };
}

/**
 * A user's gen or sink --vdev under another name: every key kept (wire,
 * driver keys, size=, check=, ...) but mac= (the port's identity), count=
 * and rate=, and queue_size= at most WARMUP_MAX_QUEUE_SIZE; a generator
 * (`count` not null) offers `count` frames at `rate` (null = unpaced), no
 * less than WARMUP_MIN_RATE.
 */
export function mirrorVdev(vdev: string, name: string, count: number | null, rate: number | null): string {
  const d = parseDevargs(vdev);
  const out = [name];
  for (const [k, v] of d.args) {
    if (k === "mac" || k === "count" || k === "rate") continue;
    if (k === "queue_size" && Number(v) > WARMUP_MAX_QUEUE_SIZE) out.push(`queue_size=${WARMUP_MAX_QUEUE_SIZE}`);
    else out.push(`${k}=${v}`);
  }
  if (count !== null) {
    if (rate !== null) out.push(`rate=${Math.max(rate, WARMUP_MIN_RATE)}`);
    out.push(`count=${count}`);
  }
  return out.join(",");
}

/**
 * Run the warm-up (cold; main thread) until every generator port has offered
 * all its frames and they were received or missed, or WARMUP_MAX_MS. The
 * lcores have returned and the ports are stopped when it resolves.
 */
export async function warmUp(
  eal: Eal,
  bus: VdevPorts,
  pool: Mempool,
  lcoreLoop: URL,
  w: WarmupPlan,
  o: { frames: number; burst: number; macUpdating: boolean; statsOffset: number; drainPasses: number; busyPoll: boolean },
): Promise<void> {
  const ports = bus.ports.slice(w.firstPort, w.firstPort + w.vdevs.length);
  const macs: number[][] = [];
  for (const p of bus.ports) macs[p.portId] = [...p.macAddr()];
  for (const p of ports) {
    p.configure(1, 1);
    p.rxQueueSetup(0, { pool });
    p.txQueueSetup(0);
  }
  const end = performance.now() + WARMUP_MAX_MS;
  for (const phase of w.phases) {
    for (const p of phase.ports) bus.ports[p]!.start();
    await runPhase(eal, bus, lcoreLoop, w.dst, macs, phase, o, end);
    for (const p of phase.ports) bus.ports[p]!.stop();
  }
  // With --busy-poll the device thread never sleeps: one CPU of its own is not V8's work.
  await jitSettled(end, SETTLE_CPU_SHARE + (o.busyPoll ? 1 : 0));
}

/** The settle check's window (ms), and the share of one CPU V8's own work may use in it to count as settled. */
const SETTLE_WINDOW_MS = 20;
const SETTLE_CPU_SHARE = 0.2;

/**
 * Wait until the process has been nearly idle for SETTLE_WINDOW_MS (under
 * `cpus` CPUs: a fifth of one, plus the device thread's with --busy-poll), or
 * `end`. After the last phase the lcores wait for their
 * next launch and the device thread sleeps on its doorbell, so what still
 * uses CPU is V8's own work: TurboFan jobs requested during the warm-up (and
 * the GC they leave). On a loaded 2-CPU machine such a job takes 20-180 ms of
 * wall time on a background thread; one still running at the real start runs
 * on the CPUs the lcore and the device thread poll on, and the code it
 * produces lands only when it is done. The optimized code is installed at the
 * first function entry or loop back edge of the real launch.
 */
async function jitSettled(end: number, cpus: number): Promise<void> {
  let cpu = process.cpuUsage();
  let t = performance.now();
  while (t < end) {
    await new Promise((r) => setTimeout(r, SETTLE_WINDOW_MS));
    const used = process.cpuUsage(cpu);
    const now = performance.now();
    if ((used.user + used.system) / 1000 < cpus * (now - t)) return;
    cpu = process.cpuUsage();
    t = now;
  }
}

/** One launch of the forwarding loop over a phase's ports, until its generators are done. */
async function runPhase(
  eal: Eal, bus: VdevPorts, lcoreLoop: URL, dst: number[], macs: number[][], phase: WarmupPhase,
  o: { frames: number; burst: number; macUpdating: boolean; statsOffset: number; drainPasses: number },
  end: number,
): Promise<void> {
  await eal.launch(lcoreLoop, "l2fwdLoop", (lcore): LcoreArg => ({
    rxPorts: phase.lcorePorts.get(lcore) ?? [],
    dst,
    macs,
    macUpdating: o.macUpdating,
    burst: o.burst,
    statsOffset: o.statsOffset,
    drainPasses: o.drainPasses,
  }));
  // Done when every generator has offered all its frames and each was received or missed
  // (what the lcores sent on is drained by the ports' stop; a full TX ring may have dropped some).
  const done = (): boolean =>
    phase.gens.every((p) => {
      const dev = bus.devices[p]!;
      return dev.wireStats().generated === o.frames && bus.ports[p]!.stats().ipackets + dev.stats().rxMissed === o.frames;
    });
  while (!done() && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  if (phase.idleAfter) {
    // The idle stretch: every lcore of the launch goes idle (Backoff sleeps; the device thread
    // then sleeps on its doorbell too), so the idle and wake-up paths are compiled before the
    // real start. Counted by the lcores' idle counts (eal control zone), not timed.
    const zone = lcoreZoneOffset(eal.mem);
    const at = new Int32Array(64);
    const now = new Int32Array(64);
    const n = launchedLcoreIdle(eal.mem, zone, at);
    const idled = (): boolean => {
      if (launchedLcoreIdle(eal.mem, zone, now) !== n) return true; // the launch ended (an lcore returned)
      for (let i = 0; i < n; i++) if (((now[i]! - at[i]!) & 0x3fffffff) < WARMUP_IDLE_COUNT) return false;
      return true;
    };
    while (n > 0 && !idled() && performance.now() < end) await new Promise((r) => setTimeout(r, 2));
  }
  eal.stop();
  await eal.wait();
}

import { TX_PATHS, type TxPath } from "./pipeline/types.js";

/**
 * Options of `pnpm bench` (bench/run.ts). Defaults live in DEFAULTS and
 * QUICK (what --quick changes) only; parseOptions validates every value and
 * names the option in its message.
 */
export type Section = "throughput" | "features" | "jitter" | "latency" | "dpdk" | "vhost-user" | "net-vhost";
export const SECTIONS: readonly Section[] = ["throughput", "features", "jitter", "latency", "dpdk", "vhost-user", "net-vhost"];
export type VuRing = "split" | "packed";
export const VU_RINGS: readonly VuRing[] = ["split", "packed"];

export interface BenchOptions {
  quick: boolean;
  /** Sections to run. */
  only: Section[];
  /** Main sweep: burst x TX path x frame size, with IN_ORDER and MRG_RXBUF on. */
  bursts: number[];
  txPaths: TxPath[];
  sizes: number[];
  /** Feature sweep: in_order x mrg_rxbuf x TX path at 64 B, for these bursts. */
  inOrder: boolean[];
  mrgRxbuf: boolean[];
  featureBursts: number[];
  /** Repetitions of every configuration (each a fresh process). */
  repeat: number;
  warmupMs: number;
  durationMs: number;
  queueSize: number;
  /** Latency (64 B, per TX path and burst): offered rate (frames/s), window, bursts. */
  latencyRate: number;
  latencyDurationMs: number;
  latencyBursts: number[];
  /** Machine-jitter probe (bare pinned loop on the pipeline's CPUs), ms per repetition, run before the latency runs. */
  jitterDurationMs: number;
  /** DPDK comparisons (the dpdk, vhost-user and net-vhost sections): bursts, measurement seconds, warm-up seconds. */
  dpdkBursts: number[];
  /** Ring layouts of the vhost-user section: each front-end (DPDK's and tpdk's) on split rings, then packed. */
  vuRings: VuRing[];
  /** vhost-user section: tpdk runs per back-end instance and burst, each between two of DPDK's (shared-back-end.ts). */
  vuTpdkRuns: number;
  /**
   * vhost-user and net-vhost sections: after every run, a line bounced between CPUs 0 and 1 for this
   * many ms names the host's level (lib/line-move.ts, lib/host-level.ts); 0: off.
   */
  lineMoveMs: number;
  dpdkDurationS: number;
  dpdkWarmupS: number;
  /** Results directory and the base name of the files written there. */
  out: string;
  name: string;
  /** Synthetic results, to work on the reports without running anything. */
  fake: boolean;
  /** Directory for V8 CPU profiles of every run (node --cpu-prof); "" = none. */
  cpuProf: string;
  /** A run whose CPU share (see RunResult.cpuShare) is below this is retried; 0 = never. */
  minCpuShare: number;
  /** Extra attempts for such a run; the attempt with the highest share is kept. */
  retries: number;
  /** Before each run, wait up to this many seconds for the CPUs to be 90 % idle (other jobs); 0 = don't. */
  waitIdleS: number;
  /** Extra time a run may take beyond warm-up + duration before it is killed, ms. */
  timeoutMs: number;
  help: boolean;
}

export const DEFAULTS: Readonly<BenchOptions> = Object.freeze({
  quick: false,
  only: [...SECTIONS],
  bursts: [1, 2, 4, 8, 16, 32, 64],
  txPaths: [...TX_PATHS],
  sizes: [64, 512, 1518],
  inOrder: [false, true],
  mrgRxbuf: [false, true],
  featureBursts: [1, 32],
  repeat: 3,
  warmupMs: 1000,
  durationMs: 2000,
  queueSize: 1024,
  latencyRate: 1e6,
  latencyDurationMs: 5000,
  latencyBursts: [1, 32],
  jitterDurationMs: 5000,
  dpdkBursts: [1, 32],
  vuRings: ["split", "packed"] as VuRing[],
  vuTpdkRuns: 1,
  lineMoveMs: 1000,
  dpdkDurationS: 5,
  dpdkWarmupS: 2,
  out: "bench/results",
  name: "full",
  fake: false,
  cpuProf: "",
  minCpuShare: 0.9,
  retries: 2,
  waitIdleS: 60,
  timeoutMs: 30_000,
  help: false,
});

/** What --quick changes (seconds in total: for CI). Explicit options still win. */
export const QUICK: Readonly<Partial<BenchOptions>> = Object.freeze({
  bursts: [1, 32],
  sizes: [64],
  inOrder: [false, true],
  mrgRxbuf: [true],
  featureBursts: [32],
  repeat: 1,
  warmupMs: 300,
  durationMs: 500,
  latencyDurationMs: 1000,
  latencyBursts: [32],
  jitterDurationMs: 1000,
  dpdkBursts: [32],
  dpdkDurationS: 2,
  dpdkWarmupS: 1,
  retries: 1,
  waitIdleS: 0,
  name: "quick",
});

export const USAGE = `usage: pnpm bench [-- options]   (node bench/dist/run.js [options])

Runs the tpdk pipeline (gen wire -> device -> virtio-pmd rx -> l2fwd -> virtio-pmd tx
-> device -> sink wire; l2fwd lcore on CPU 0, device thread on CPU 1, both busy-polling)
one process per configuration and repetition, then writes <out>/<name>.json, .md, .svg.
dpdk: DPDK's testpmd pair against that pipeline; vhost-user: one DPDK back-end (testpmd
net_vhost, CPU 1) facing DPDK's front-end and tpdk's (l2fwd net_virtio_user, CPU 0) in turn;
net-vhost: one DPDK front-end (testpmd net_virtio_user flowgen, CPU 1) facing DPDK's back-end
and tpdk's (l2fwd net_vhost, CPU 0) in turn.

  --quick                 CI mode: a few configurations, short runs (seconds)
  --only LIST             sections: ${SECTIONS.join(",")} (default all)
  --bursts LIST           main sweep bursts (default ${DEFAULTS.bursts.join(",")})
  --tx-paths LIST         TX paths (all sections): ${TX_PATHS.join(",")} (default all)
  --sizes LIST            frame sizes with FCS, 64..1518 (default ${DEFAULTS.sizes.join(",")})
  --in-order LIST         feature sweep in_order values, 0/1 (default 0,1)
  --mrg-rxbuf LIST        feature sweep mrg_rxbuf values, 0/1 (default 0,1)
  --feature-bursts LIST   feature sweep bursts (default ${DEFAULTS.featureBursts.join(",")})
  --repeat N              runs per configuration (default ${DEFAULTS.repeat})
  --warmup MS             warm-up before measuring (default ${DEFAULTS.warmupMs})
  --duration MS           measurement window (default ${DEFAULTS.durationMs})
  --queue-size N          descriptors per queue (default ${DEFAULTS.queueSize})
  --latency-rate PPS      offered rate of the latency runs, e.g. 1M (default 1M)
  --latency-duration MS   latency measurement window (default ${DEFAULTS.latencyDurationMs})
  --latency-bursts LIST   l2fwd bursts in the latency runs (default ${DEFAULTS.latencyBursts.join(",")})
  --jitter-duration MS    machine-jitter probe per repetition: a bare allocation-free loop pinned
                          to each pipeline CPU, before the latency runs (default ${DEFAULTS.jitterDurationMs};
                          --quick runs it too, for ${QUICK.jitterDurationMs} ms)
  --dpdk-bursts LIST      bursts of the dpdk, vhost-user and net-vhost sections (default ${DEFAULTS.dpdkBursts.join(",")})
  --vu-rings LIST         ring layouts of the vhost-user section, both front-ends alike: split,packed
                          (default ${DEFAULTS.vuRings.join(",")}); --repeat back-end instances each, every
                          instance faced in turn: DPDK, tpdk, DPDK (... --vu-tpdk-runs times) at each burst
  --vu-tpdk-runs N        tpdk runs per back-end instance and burst, each between two of DPDK's (default ${DEFAULTS.vuTpdkRuns})
  --line-move MS          vhost-user and net-vhost sections: after every run, a line bounced between CPUs 0 and 1
                          for MS ms names the host's level beside each row's ratio (~150 ns fast, 420-480 usual;
                          default ${DEFAULTS.lineMoveMs}, 0: off)
  --dpdk-duration S       their measurement window, seconds (default ${DEFAULTS.dpdkDurationS})
  --dpdk-warmup S         their warm-up, seconds (default ${DEFAULTS.dpdkWarmupS})
  --out DIR               results directory (default ${DEFAULTS.out})
  --name NAME             results file name (default full, quick with --quick, fake with --fake)
  --fake                  synthetic results (to work on the reports; marked as such)
  --cpu-prof DIR          write V8 CPU profiles of every run's threads to DIR
  --min-cpu-share F       retry a run that got less than this share of its 2 CPUs (default ${DEFAULTS.minCpuShare}; 0 = never)
  --retries N             extra attempts for such a run, best kept (default ${DEFAULTS.retries}, --quick 1)
  --wait-idle S           before each run wait up to S seconds for 90 % idle CPUs (default ${DEFAULTS.waitIdleS}, --quick 0)
  --timeout MS            slack per run before it is killed (default ${DEFAULTS.timeoutMs})
  -h, --help              this help`;

export class OptionError extends Error {}

const FLAGS = new Set(["--quick", "--fake", "-h", "--help"]);

/** Parse argv (without node and script). Throws OptionError naming the option. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === "--") continue;
    let v: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (FLAGS.has(a)) {
      if (v !== undefined) throw new OptionError(`${a} takes no value`);
      given.set(a, "1");
      continue;
    }
    if (!KNOWN.has(a)) throw new OptionError(`unknown option ${a}; see --help`);
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined || (v.startsWith("--") && v.length > 2)) throw new OptionError(`${a} needs a value`);
    }
    given.set(a, v);
  }
  const quick = given.has("--quick");
  const o: BenchOptions = { ...DEFAULTS, ...(quick ? QUICK : {}), quick };
  o.help = given.has("-h") || given.has("--help");
  o.fake = given.has("--fake");
  // Synthetic results never overwrite a recorded run's files (full.json, .md, .svg) unless named so.
  if (o.fake && !given.has("--name")) o.name = "fake";
  for (const [opt, v] of given) PARSERS[opt]?.(o, v, opt);
  if (o.only.length === 0) throw new OptionError("--only: no section left");
  return o;
}

type Parser = (o: BenchOptions, v: string, opt: string) => void;

function int(v: string, opt: string, lo: number, hi: number): number {
  if (!/^\d+$/.test(v)) throw new OptionError(`${opt} ${v}: not a whole number; use ${lo}..${hi}`);
  const n = Number(v);
  if (n < lo || n > hi) throw new OptionError(`${opt} ${v}: out of range; use ${lo}..${hi}`);
  return n;
}

function list<T>(v: string, opt: string, one: (s: string) => T): T[] {
  const parts = v.split(",").map((s) => s.trim());
  if (parts.some((p) => p === "")) throw new OptionError(`${opt} ${v}: empty item; write e.g. ${opt} 1,32`);
  const out = parts.map(one);
  return [...new Set(out)];
}

function bit(s: string, opt: string): boolean {
  if (s === "0") return false;
  if (s === "1") return true;
  throw new OptionError(`${opt} ${s}: use 0 and/or 1, e.g. ${opt} 0,1`);
}

function txPath(s: string, opt: string): TxPath {
  if (!TX_PATHS.includes(s as TxPath)) throw new OptionError(`${opt} ${s}: not a TX path; use ${TX_PATHS.join(", ")}`);
  return s as TxPath;
}

/** "1000000", "1M", "2.5M", "500k" */
function rate(v: string, opt: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(v);
  const n = m ? Number(m[1]) * ({ "": 1, k: 1e3, m: 1e6 } as Record<string, number>)[m[2]!.toLowerCase()]! : NaN;
  if (!(n >= 1000 && n <= 50e6) || !Number.isInteger(n)) throw new OptionError(`${opt} ${v}: use a rate in frames/s from 1k to 50M, e.g. 1M`);
  return n;
}

const sortNum = (a: number, b: number) => a - b;

const PARSERS: Record<string, Parser> = {
  "--only": (o, v, opt) => {
    o.only = list(v, opt, (s) => {
      if (!SECTIONS.includes(s as Section)) throw new OptionError(`${opt} ${s}: not a section; use ${SECTIONS.join(", ")}`);
      return s as Section;
    });
  },
  "--bursts": (o, v, opt) => {
    o.bursts = list(v, opt, (s) => int(s, opt, 1, 64)).sort(sortNum);
  },
  "--tx-paths": (o, v, opt) => {
    o.txPaths = list(v, opt, (s) => txPath(s, opt));
  },
  "--sizes": (o, v, opt) => {
    o.sizes = list(v, opt, (s) => int(s, opt, 64, 1518)).sort(sortNum);
  },
  "--in-order": (o, v, opt) => {
    o.inOrder = list(v, opt, (s) => bit(s, opt));
  },
  "--mrg-rxbuf": (o, v, opt) => {
    o.mrgRxbuf = list(v, opt, (s) => bit(s, opt));
  },
  "--feature-bursts": (o, v, opt) => {
    o.featureBursts = list(v, opt, (s) => int(s, opt, 1, 64)).sort(sortNum);
  },
  "--repeat": (o, v, opt) => {
    o.repeat = int(v, opt, 1, 100);
  },
  "--warmup": (o, v, opt) => {
    o.warmupMs = int(v, opt, 0, 600_000);
  },
  "--duration": (o, v, opt) => {
    o.durationMs = int(v, opt, 100, 600_000);
  },
  "--queue-size": (o, v, opt) => {
    const n = int(v, opt, 64, 4096);
    if ((n & (n - 1)) !== 0) throw new OptionError(`${opt} ${v}: not a power of two; use e.g. 256, 1024`);
    o.queueSize = n;
  },
  "--latency-rate": (o, v, opt) => {
    o.latencyRate = rate(v, opt);
  },
  "--latency-duration": (o, v, opt) => {
    o.latencyDurationMs = int(v, opt, 100, 600_000);
  },
  "--latency-bursts": (o, v, opt) => {
    o.latencyBursts = list(v, opt, (s) => int(s, opt, 1, 64)).sort(sortNum);
  },
  "--jitter-duration": (o, v, opt) => {
    o.jitterDurationMs = int(v, opt, 100, 600_000);
  },
  "--dpdk-bursts": (o, v, opt) => {
    o.dpdkBursts = list(v, opt, (s) => int(s, opt, 1, 64)).sort(sortNum);
  },
  "--vu-rings": (o, v, opt) => {
    o.vuRings = list(v, opt, (s) => {
      if (!(VU_RINGS as readonly string[]).includes(s)) throw new OptionError(`${opt} ${v}: use split and/or packed, e.g. split,packed`);
      return s as VuRing;
    });
  },
  "--vu-tpdk-runs": (o, v, opt) => {
    o.vuTpdkRuns = int(v, opt, 1, 20);
  },
  "--line-move": (o, v, opt) => {
    o.lineMoveMs = int(v, opt, 0, 60_000);
  },
  "--dpdk-duration": (o, v, opt) => {
    o.dpdkDurationS = int(v, opt, 1, 600);
  },
  "--dpdk-warmup": (o, v, opt) => {
    o.dpdkWarmupS = int(v, opt, 0, 600);
  },
  "--out": (o, v) => {
    o.out = v;
  },
  "--name": (o, v, opt) => {
    if (!/^[A-Za-z0-9._-]+$/.test(v)) throw new OptionError(`${opt} ${v}: use letters, digits, . _ - only (it names files)`);
    o.name = v;
  },
  "--cpu-prof": (o, v) => {
    o.cpuProf = v;
  },
  "--min-cpu-share": (o, v, opt) => {
    const f = Number(v);
    if (!/^\d*\.?\d+$/.test(v) || !(f >= 0 && f <= 1)) throw new OptionError(`${opt} ${v}: use a fraction from 0 to 1, e.g. 0.9`);
    o.minCpuShare = f;
  },
  "--retries": (o, v, opt) => {
    o.retries = int(v, opt, 0, 10);
  },
  "--wait-idle": (o, v, opt) => {
    o.waitIdleS = int(v, opt, 0, 3600);
  },
  "--timeout": (o, v, opt) => {
    o.timeoutMs = int(v, opt, 1000, 3_600_000);
  },
};

const KNOWN = new Set(Object.keys(PARSERS));

import { UsageError } from "./errors.js";
import { MAX_LCORE } from "./lcore-id.js";

/**
 * EAL command line, DPDK style: `app [EAL options] -- [application options]`.
 * Everything before the first `--` belongs to the EAL; everything after it is
 * handed back untouched as `appArgs`.
 */
export interface EalOptions {
  /** `-l`: lcore ids, sorted and unique. An lcore id is also the CPU it is pinned to. */
  readonly lcores: readonly number[];
  /** `-m`: shared memory size in MB (1..4095). */
  readonly memoryMb: number;
  /** `--vdev`: raw devargs strings, in command-line order (parse with parseDevargs). */
  readonly vdevs: readonly string[];
  /** `--no-pin`: do not pin lcore threads to CPUs. */
  readonly noPin: boolean;
  /** `--busy-poll`: idle loops spin without ever sleeping (benchmarks on dedicated CPUs). */
  readonly busyPoll: boolean;
  /**
   * EAL memory on a memfd (MAP_SHARED), so another process (a vhost-user
   * back-end) can map it; needs the native addon. No command-line flag: the
   * application asks for it (e.g. when a port needs it). Default false: a
   * plain SharedArrayBuffer.
   */
  readonly sharedMemory: boolean;
  /** `--no-huge` (DPDK's name): with sharedMemory, use 4 KB pages and do not try 2 MB hugepages first. */
  readonly noHuge: boolean;
  /** `-h` / `--help`: the application should print usage and exit 0. */
  readonly help: boolean;
}

export const MEMORY_MB_MAX = 4095;

/** The single place EAL defaults live. */
export const EAL_DEFAULTS: EalOptions = Object.freeze({
  lcores: Object.freeze([0]),
  memoryMb: 256,
  vdevs: Object.freeze([]),
  noPin: false,
  busyPoll: false,
  sharedMemory: false,
  noHuge: false,
  help: false,
});

export const EAL_USAGE = `EAL options (before --):
  -l CORELIST      lcores to run on, e.g. 0, 0-1, 0,2-3 (default 0; ids 0..${MAX_LCORE - 1})
  -m MB            shared memory size in MB (default ${EAL_DEFAULTS.memoryMb}, max ${MEMORY_MB_MAX})
  --vdev DEVARGS   add a virtual device, e.g. --vdev virtio0,wire=gen,size=64:512 (repeatable):
                   virtioN,wire=...           built-in virtio-net device on a wire
                   net_virtio_userN,path=S    our driver on a vhost-user back-end listening at S
                   net_vhostN,iface=S         a vhost-user back-end at S for a foreign front-end
  --no-pin         do not pin lcore threads to CPUs
  --busy-poll      never sleep when idle (only with one CPU per busy thread)
  --no-huge        memory shared with other processes uses 4 KB pages, not 2 MB hugepages
  -h, --help       show this help`;

const CORELIST_HINT = "use e.g. -l 0 or -l 0-1";

/**
 * Parse a DPDK core list: comma-separated ids and low-high ranges
 * ("0", "0-1", "0,2-3"). Returns sorted unique ids, each < MAX_LCORE.
 * Throws UsageError naming `opt`.
 */
export function parseCoreList(text: string, opt = "-l"): number[] {
  const bad = () => new UsageError(`${opt}: "${text}" is not a core list; ${CORELIST_HINT}`);
  if (typeof text !== "string" || text.trim() === "") {
    throw new UsageError(`${opt}: empty core list; ${CORELIST_HINT}`);
  }
  const ids = new Set<number>();
  for (const raw of text.split(",")) {
    const part = raw.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw bad();
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (const id of [lo, hi]) {
      if (id >= MAX_LCORE) {
        throw new UsageError(`${opt}: core ${id} is out of range; core ids are 0..${MAX_LCORE - 1}`);
      }
    }
    if (hi < lo) throw new UsageError(`${opt}: range "${part}" is reversed; write it low-high, e.g. -l ${hi}-${lo}`);
    for (let i = lo; i <= hi; i++) ids.add(i);
  }
  return [...ids].sort((a, b) => a - b);
}

/**
 * Validate and default EAL options. Both parseEalArgs and programmatic users
 * (tests, Eal.init) go through here, so defaults and limits live in one place.
 */
export function resolveEalOptions(partial: Partial<EalOptions> = {}): EalOptions {
  const o = { ...EAL_DEFAULTS, ...stripUndefined(partial) };
  if (!Array.isArray(o.lcores) || o.lcores.length === 0) {
    throw new UsageError(`-l: no lcores; ${CORELIST_HINT}`);
  }
  const lcores = [...new Set(o.lcores)].sort((a, b) => a - b);
  for (const id of lcores) {
    if (!Number.isInteger(id) || id < 0 || id >= MAX_LCORE) {
      throw new UsageError(`-l: core ${id} is out of range; core ids are 0..${MAX_LCORE - 1}`);
    }
  }
  if (!Number.isInteger(o.memoryMb) || o.memoryMb < 1) {
    throw new UsageError(`-m: ${o.memoryMb} is not a memory size; use a whole number of MB, e.g. -m 256`);
  }
  if (o.memoryMb > MEMORY_MB_MAX) {
    throw new UsageError(`-m: ${o.memoryMb} MB is too large; the maximum is ${MEMORY_MB_MAX} (bus addresses are 32-bit)`);
  }
  for (const v of o.vdevs) {
    if (typeof v !== "string" || v === "") throw new UsageError(`--vdev: empty device string; use e.g. --vdev virtio0,wire=gen`);
  }
  return Object.freeze({
    lcores: Object.freeze(lcores),
    memoryMb: o.memoryMb,
    vdevs: Object.freeze([...o.vdevs]),
    noPin: !!o.noPin,
    busyPoll: !!o.busyPoll,
    sharedMemory: !!o.sharedMemory,
    noHuge: !!o.noHuge,
    help: !!o.help,
  });
}

function stripUndefined<T extends object>(p: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The EAL's option names, for telling a runner's leading "--" from DPDK's EAL/application separator. */
const EAL_OPTION = /^(-[lmh]|--(vdev|no-pin|busy-poll|no-huge|help))(=|$)|^-[lm]./;

/**
 * `pnpm l2fwd -- [EAL] -- [app]` hands the program the script runner's own
 * "--" first; `tpdk-l2fwd -- -p 0x3` (no EAL options, DPDK's form) starts with
 * DPDK's separator. A leading "--" is the runner's when another "--" follows
 * it or when an EAL option comes next; otherwise it is the separator and is kept.
 */
export function dropRunnerSeparator(argv: readonly string[]): readonly string[] {
  if (argv[0] !== "--") return argv;
  const rest = argv.slice(1);
  if (rest.includes("--") || (rest.length > 0 && EAL_OPTION.test(rest[0]!))) return rest;
  return argv;
}

/**
 * Split `argv` (process.argv.slice(2)) into EAL options and the application's
 * arguments at the first `--`. Accepts `-l 0-1`, `-l0-1`, `--vdev X`,
 * `--vdev=X`. Throws UsageError for unknown options, missing values, and
 * options given twice (except --vdev, which repeats).
 */
export function parseEalArgs(argv: readonly string[]): { eal: EalOptions; appArgs: string[] } {
  const sep = argv.indexOf("--");
  const ealArgs = sep < 0 ? argv : argv.slice(0, sep);
  const appArgs = sep < 0 ? [] : argv.slice(sep + 1);
  const p: { -readonly [K in keyof EalOptions]?: EalOptions[K] } = {};
  const vdevs: string[] = [];
  const seen = new Set<string>();
  const once = (opt: string) => {
    if (seen.has(opt)) throw new UsageError(`${opt} given twice; give it once`);
    seen.add(opt);
  };

  for (let i = 0; i < ealArgs.length; i++) {
    const arg = ealArgs[i]!;
    let opt = arg;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      if (eq > 0) {
        opt = arg.slice(0, eq);
        inline = arg.slice(eq + 1);
      }
    } else if (/^-[lm]./.test(arg)) {
      opt = arg.slice(0, 2);
      inline = arg.slice(2);
    }
    const value = (hint: string): string => {
      if (inline !== undefined) return inline;
      const next = ealArgs[i + 1];
      if (next === undefined || (next.startsWith("-") && next.length > 1)) {
        throw new UsageError(`${opt}: missing value; ${hint}`);
      }
      i++;
      return next;
    };
    const flag = () => {
      if (inline !== undefined) throw new UsageError(`${opt} takes no value; write just ${opt}`);
    };

    switch (opt) {
      case "-l":
        once("-l");
        p.lcores = parseCoreList(value(CORELIST_HINT), "-l");
        break;
      case "-m": {
        once("-m");
        const v = value("use e.g. -m 256");
        if (!/^\d+$/.test(v)) throw new UsageError(`-m: "${v}" is not a number of megabytes; use e.g. -m 256`);
        p.memoryMb = Number(v);
        break;
      }
      case "--vdev":
        vdevs.push(value("use e.g. --vdev virtio0,wire=gen"));
        break;
      case "--no-pin":
        flag();
        p.noPin = true;
        break;
      case "--busy-poll":
        flag();
        p.busyPoll = true;
        break;
      case "--no-huge":
        flag();
        p.noHuge = true;
        break;
      case "-h":
      case "--help":
        flag();
        p.help = true;
        break;
      default:
        if (arg.startsWith("-")) {
          throw new UsageError(
            `unknown EAL option '${opt}'; EAL options (-l, -m, --vdev, --no-pin, --busy-poll, --no-huge, -h) come before '--', application options after it`,
          );
        }
        throw new UsageError(`unexpected argument '${arg}' before '--'; application arguments go after '--'`);
    }
  }
  p.vdevs = vdevs;
  return { eal: resolveEalOptions(p), appArgs };
}

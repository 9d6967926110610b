import { UsageError } from "@tpdk/eal";

/**
 * Options of `pnpm bench:micro` (bench/micro/index.ts). Defaults live here
 * only; every value is validated and a bad one names its option.
 */
export const MICRO_GROUPS = ["ring", "mempool", "pmd", "header"] as const;
export type MicroGroup = (typeof MICRO_GROUPS)[number];

export interface MicroOptions {
  /** --quick: 100 ms per case instead of 400. */
  readonly quick: boolean;
  /** --time MS: measuring time per case. */
  readonly timeMs: number;
  /** --only GROUP: one group of cases; null = all. */
  readonly only: MicroGroup | null;
  readonly help: boolean;
}

export const MICRO_DEFAULTS = { timeMs: 400, quickTimeMs: 100 } as const;
const MAX_TIME_MS = 60_000;

export const MICRO_USAGE = `usage: pnpm bench:micro [-- options]   (node bench/dist/micro/index.js [options])

Micro-benchmarks (tinybench): ring round trips by burst, mempool get/put with and
without the lcore cache, virtio-pmd TX per path and RX with refill against a fake
device, the push path's header write. Prints a markdown table of median ns per
operation and per object.

  --quick        ${MICRO_DEFAULTS.quickTimeMs} ms per case (default ${MICRO_DEFAULTS.timeMs})
  --time MS      measuring time per case, 1..${MAX_TIME_MS} (default ${MICRO_DEFAULTS.timeMs}, --quick ${MICRO_DEFAULTS.quickTimeMs})
  --only GROUP   one group: ${MICRO_GROUPS.join("|")} (default all)
  -h, --help     this help`;

export function parseMicroArgs(argv: readonly string[]): MicroOptions {
  let quick = false;
  let timeMs: number | undefined;
  let only: MicroGroup | null = null;
  if (argv.includes("-h") || argv.includes("--help")) return { quick, timeMs: MICRO_DEFAULTS.timeMs, only, help: true };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${opt} needs a value; see --help`);
      return v;
    };
    switch (opt) {
      case "--quick":
        quick = true;
        break;
      case "--time": {
        const v = value();
        const n = /^\d+$/.test(v) ? Number(v) : NaN;
        if (!(n >= 1 && n <= MAX_TIME_MS)) throw new UsageError(`--time: "${v}" is not a time in ms, 1..${MAX_TIME_MS}`);
        timeMs = n;
        break;
      }
      case "--only": {
        const v = value();
        if (!(MICRO_GROUPS as readonly string[]).includes(v)) throw new UsageError(`--only: "${v}" is not a group; use one of ${MICRO_GROUPS.join(", ")}`);
        only = v as MicroGroup;
        break;
      }
      default:
        throw new UsageError(`unknown option ${opt}; use --quick, --time MS, --only GROUP (see --help)`);
    }
  }
  return { quick, timeMs: timeMs ?? (quick ? MICRO_DEFAULTS.quickTimeMs : MICRO_DEFAULTS.timeMs), only, help: false };
}

import { UsageError } from "@tpdk/eal";

/**
 * l2fwd's own options (after the EAL's `--`), as DPDK's examples/l2fwd takes
 * them, plus --burst and --json. Defaults live here and nowhere else.
 */
export interface L2fwdOptions {
  /** -p: hex bitmask of the ports to use (required). */
  readonly portmask: number;
  /** -q: ports (RX queues) handled by one lcore, 1..16. */
  readonly portsPerLcore: number;
  /** -T: statistics period in seconds, 0 = off. */
  readonly statsPeriod: number;
  /** --no-mac-updating clears this. */
  readonly macUpdating: boolean;
  /** --portmap="(a,b)(c,d)": explicit pairs; empty = consecutive enabled ports. */
  readonly portmap: ReadonlyArray<readonly [number, number]>;
  /** -P: promiscuous mode on every port. */
  readonly promiscuous: boolean;
  /** --burst: packets per rx/tx burst, 1..64 (1 is the per-packet path). */
  readonly burst: number;
  /** --json: one JSON object per statistics period instead of the table. */
  readonly json: boolean;
  /** --warmup: frames per generator of the JIT warm-up before the ports start (warmup.ts); 0 = none. */
  readonly warmup: number;
  /** -h / --help: print the usage and exit 0 (nothing else is checked). */
  readonly help: boolean;
}

export const L2FWD_DEFAULTS = {
  portsPerLcore: 1,
  statsPeriod: 10,
  macUpdating: true,
  promiscuous: false,
  burst: 32,
  json: false,
  warmup: 0,
  help: false,
} as const;

export const MAX_PORTS = 32;
const MAX_PORTS_PER_LCORE = 16;
const MAX_TIMER_PERIOD = 86400;
const MAX_WARMUP = 100_000_000;

/** l2fwd's options, for the usage text (defaults from L2FWD_DEFAULTS). */
export const L2FWD_USAGE = `l2fwd options (after --):
  -p PORTMASK         hexadecimal bitmask of the ports to use (required), e.g. -p 0x3 for ports 0 and 1
  -P                  enable promiscuous mode (accepted: the device has no filter) (default off)
  -q NQ               ports (RX queues) polled by one lcore, 1..${MAX_PORTS_PER_LCORE} (default ${L2FWD_DEFAULTS.portsPerLcore})
  -T PERIOD           statistics period in seconds, 0 = off, max ${MAX_TIMER_PERIOD} (default ${L2FWD_DEFAULTS.statsPeriod})
  --no-mac-updating   forward frames untouched (default: rewrite the Ethernet addresses)
  --mac-updating      rewrite the Ethernet addresses (the default; DPDK's --[no-]mac-updating)
  --portmap="(a,b)(c,d)"  explicit port pairs (default: consecutive enabled ports)
  --burst N           packets per burst, 1..64; 1 is the per-packet path (default ${L2FWD_DEFAULTS.burst})
  --json              statistics as one JSON object per line (default: a table)
  --warmup N          before the ports start, the lcores forward N frames per generator between
                      private ports (mirrors of gen/sink ports, else a generator pair per lcore), so
                      the first real frame meets JIT-optimized code (pnpm demo: --warmup 300000); 0 = off
                      (default ${L2FWD_DEFAULTS.warmup})
  -h, --help          this help`;

export function parseL2fwdArgs(argv: readonly string[]): L2fwdOptions {
  let portmask: number | undefined;
  let portsPerLcore: number = L2FWD_DEFAULTS.portsPerLcore;
  let statsPeriod: number = L2FWD_DEFAULTS.statsPeriod;
  let macUpdating: boolean = L2FWD_DEFAULTS.macUpdating;
  let promiscuous: boolean = L2FWD_DEFAULTS.promiscuous;
  let burst: number = L2FWD_DEFAULTS.burst;
  let json: boolean = L2FWD_DEFAULTS.json;
  let warmup: number = L2FWD_DEFAULTS.warmup;
  const base = { portsPerLcore, statsPeriod, macUpdating, portmap: [], promiscuous, burst, json, warmup };
  // A request for help wins over everything else on the line, as getopt's -h does.
  if (argv.includes("-h") || argv.includes("--help")) return { ...base, portmask: 0, help: true };
  let portmap: Array<[number, number]> = [];

  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    // Accept both "--opt=value" and "--opt value", and "-pVALUE" as getopt does.
    let opt = raw;
    let inline: string | undefined;
    const eq = raw.startsWith("--") ? raw.indexOf("=") : -1;
    if (eq > 0) {
      opt = raw.slice(0, eq);
      inline = raw.slice(eq + 1);
    } else if (/^-[pqT].+/.test(raw)) {
      opt = raw.slice(0, 2);
      inline = raw.slice(2);
    }
    const flag = (): void => {
      if (inline !== undefined) throw new UsageError(`${opt} takes no value; write just ${opt}`);
    };
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${opt} needs a value; see --help`);
      return v;
    };
    switch (opt) {
      case "-p": {
        const v = value();
        if (!/^(0[xX])?[0-9a-fA-F]+$/.test(v)) throw new UsageError(`-p: "${v}" is not a hexadecimal portmask; use e.g. -p 0x3 for ports 0 and 1`);
        const n = parseInt(v, 16);
        if (n === 0) throw new UsageError(`-p: portmask ${v} selects no port; use e.g. -p 0x3`);
        if (n >= 2 ** MAX_PORTS) throw new UsageError(`-p: portmask ${v} names ports beyond ${MAX_PORTS - 1}`);
        portmask = n;
        break;
      }
      case "-q":
        portsPerLcore = intOption("-q", value(), 1, MAX_PORTS_PER_LCORE, "number of ports per lcore");
        break;
      case "-T":
        statsPeriod = intOption("-T", value(), 0, MAX_TIMER_PERIOD, "statistics period in seconds (0 disables)");
        break;
      case "-P":
        flag();
        promiscuous = true;
        break;
      case "--no-mac-updating":
        flag();
        macUpdating = false;
        break;
      case "--mac-updating":
        flag();
        macUpdating = true;
        break;
      case "--portmap":
        portmap = parsePortmap(value());
        break;
      case "--burst":
        burst = intOption("--burst", value(), 1, 64, "packets per burst");
        break;
      case "--json":
        flag();
        json = true;
        break;
      case "--warmup":
        warmup = intOption("--warmup", value(), 0, MAX_WARMUP, "frames per warm-up generator (0 = no warm-up)");
        break;
      default:
        throw new UsageError(`unknown l2fwd option "${raw}"; l2fwd takes -p PORTMASK [-P] [-q NQ] [-T PERIOD] [--[no-]mac-updating] [--portmap=...] [--burst N] [--json] [--warmup N] (see --help)`);
    }
  }
  if (portmask === undefined) throw new UsageError("-p PORTMASK is required; use e.g. -p 0x3 for ports 0 and 1");
  return { portmask, portsPerLcore, statsPeriod, macUpdating, portmap, promiscuous, burst, json, warmup, help: false };
}

function intOption(name: string, v: string, min: number, max: number, what: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${name}: "${v}" is not a number; give the ${what}, ${min}..${max}`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`${name}: ${n} is out of range; give the ${what}, ${min}..${max}`);
  return n;
}

/** "(0,1)(2,3)" -> [[0,1],[2,3]], as DPDK's l2fwd_parse_port_pair_config. */
export function parsePortmap(s: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const re = /\(\s*(\d+)\s*,\s*(\d+)\s*\)/y;
  let pos = 0;
  const text = s.trim();
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new UsageError(`--portmap: cannot parse "${s}"; use pairs like --portmap="(0,1)(2,3)"`);
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (a >= MAX_PORTS || b >= MAX_PORTS) throw new UsageError(`--portmap: port ids must be below ${MAX_PORTS}`);
    out.push([a, b]);
    pos = re.lastIndex;
  }
  if (out.length === 0) throw new UsageError(`--portmap: no pair given; use pairs like --portmap="(0,1)(2,3)"`);
  return out;
}

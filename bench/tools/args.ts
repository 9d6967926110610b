/** The bench tools' command lines (cold): `--name value` options read from process.argv. */

/** What a tool takes: `values` are `--name value` options (`repeatable` ones may come more than once), `flags` stand alone. */
export interface ToolArgs {
  values: readonly string[];
  repeatable?: readonly string[];
  flags?: readonly string[];
}

/**
 * The first thing wrong with `args` (process.argv after the script) for a tool taking `known`, or null:
 * an unknown argument (a typo such as --brust would otherwise run with the defaults), a value missing
 * (nothing after the option, or another of the tool's options), a non-repeatable option given twice.
 * A value may itself start with "--" (`--node-flag --perf-prof`): it is skipped, not checked.
 */
export function argsProblem(args: readonly string[], known: ToolArgs): string | null {
  const repeatable = known.repeatable ?? [];
  const flags = known.flags ?? [];
  const valued = [...known.values, ...repeatable];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const isFlag = flags.includes(a);
    if (!isFlag && !valued.includes(a)) return `unknown argument '${a}' (--help lists the options)`;
    if (seen.has(a) && !repeatable.includes(a)) return `option ${a} given twice`;
    seen.add(a);
    if (isFlag) continue;
    const v = args[i + 1];
    if (v === undefined || flags.includes(v) || valued.includes(v)) return `option ${a} needs a value after it (--help)`;
    i++;
  }
  return null;
}

/**
 * A tool's command line, checked before it reads any option: --help or -h prints `usage`, exit 0;
 * else `argsProblem` on process.argv, one line naming the tool and the problem, exit 2.
 */
export function checkArgs(tool: string, usage: string, known: ToolArgs): void {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  const problem = argsProblem(args, known);
  if (problem !== null) {
    console.error(`${tool}: ${problem}`);
    process.exit(2);
  }
}

/** Every value of a repeatable option, in order. */
export function optAll(name: string): string[] {
  const out: string[] = [];
  for (let i = 2; i < process.argv.length - 1; i++) if (process.argv[i] === name) out.push(process.argv[++i]!);
  return out;
}

/** Every `--node-flag F` (extra node/V8 flags for tpdk's l2fwd), in order; a value that is not a flag: one line, exit 2. */
export function validNodeFlags(tool: string): string[] {
  const flags = optAll("--node-flag");
  for (const f of flags) {
    if (!f.startsWith("-")) {
      console.error(`${tool}: option --node-flag needs a node/V8 flag after it, e.g. --node-flag --trace-deopt (got '${f}')`);
      process.exit(2);
    }
  }
  return flags;
}

/** The value after `name`, `dflt` when `name` is absent, "" when nothing follows it. */
export function opt(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? "") : dflt;
}

/** `opt` as a positive integer; anything else: one line naming the option, exit 2. */
export function positiveInt(tool: string, name: string, dflt: string): number {
  const v = Number(opt(name, dflt));
  if (!Number.isInteger(v) || v < 1) {
    console.error(`${tool}: option ${name} must be a positive integer (got '${opt(name, dflt)}')`);
    process.exit(2);
  }
  return v;
}

/** `opt` as an integer >= 0 (0 may turn a step off); anything else: one line naming the option, exit 2. */
export function nonNegativeInt(tool: string, name: string, dflt: string): number {
  const s = opt(name, dflt);
  const v = Number(s);
  if (s === "" || !Number.isInteger(v) || v < 0) {
    console.error(`${tool}: option ${name} must be an integer >= 0 (got '${s}')`);
    process.exit(2);
  }
  return v;
}

/** `opt` as one of `choices`; anything else: one line naming the option, exit 2. */
export function oneOf<T extends string>(tool: string, name: string, dflt: T, choices: readonly T[]): T {
  const v = opt(name, dflt);
  if (!(choices as readonly string[]).includes(v)) {
    console.error(`${tool}: option ${name} must be one of ${choices.join(", ")} (got '${v}')`);
    process.exit(2);
  }
  return v as T;
}

/** `opt` as a number of seconds >= 0 (a warm-up may be 0); anything else: one line naming the option, exit 2. */
export function seconds(tool: string, name: string, dflt: string): number {
  const s = opt(name, dflt);
  const v = Number(s);
  if (s === "" || !Number.isFinite(v) || v < 0) {
    console.error(`${tool}: option ${name} must be a number of seconds >= 0 (got '${s}')`);
    process.exit(2);
  }
  return v;
}

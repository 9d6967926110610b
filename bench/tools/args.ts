/** The bench tools' command lines (cold): `--name value` options read from process.argv. */

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

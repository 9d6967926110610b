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

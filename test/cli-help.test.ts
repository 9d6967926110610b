// Issue 13: every command's --help lists every option its parser takes, every option it lists
// exists, -h/--help exit 0 with the usage on stdout, and a bad option is one line on stderr naming
// it, exit 2, no stack. For l2fwd, the bench, bench:micro, the soak and the fuzz.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { runOwned } from "@tpdk/testing/owned";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface Cli {
  name: string;
  script: string;
  /** The files whose string literals are the options the parser takes (comments skipped). */
  sources: string[];
  /** Arguments that put `opt` where the parser reads it (l2fwd: before or after the "--"). */
  place: (opt: string, section: string) => string[];
}

const L2FWD_PORTS = ["-l", "0", "--vdev", "virtio0,wire=sink"];
const CLIS: Cli[] = [
  {
    name: "l2fwd",
    script: "apps/l2fwd/dist/main.js",
    sources: ["apps/l2fwd/src/options.ts", "packages/eal/src/args.ts"],
    place: (opt, section) => (section.startsWith("l2fwd") ? [...L2FWD_PORTS, "--", opt] : [opt]),
  },
  { name: "bench", script: "bench/dist/run.js", sources: ["bench/options.ts"], place: (opt) => [opt] },
  { name: "bench:micro", script: "bench/dist/micro/index.js", sources: ["bench/micro/options.ts"], place: (opt) => [opt] },
  { name: "soak", script: "scripts/dist/soak.js", sources: ["scripts/src/soak.ts"], place: (opt) => [opt] },
  { name: "fuzz", script: "scripts/dist/hostile-fuzz.js", sources: ["scripts/src/hostile-fuzz.ts"], place: (opt) => [opt] },
];

async function run(cli: Cli, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Owned and bounded: a CLI that hung on an option would be SIGKILLed by PID, never left running.
  const r = await runOwned(process.execPath, [join(root, cli.script), ...args], { timeoutMs: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Children of one check run at once. Each is a whole Node start that loads the CLI before it parses
 * (the bench: ~0.5 s of CPU), and the bench documents 32 options: one after another, its check took
 * 13-17 s idle (fresh-clone CI, sessions 37-38) and reached vitest's 60 s in 3 of 3 runs under three
 * CPU hogs (bench/notes/gc.md "Session 40: the margins session 39 left, and its fixes under load").
 * Four at a time: 8-11 s idle, 24-37 s under that load.
 */
const RUNS_AT_ONCE = 4;

/** `f` of each of `xs`, at most `n` running at a time; the results in the order of `xs`. */
async function inParallel<T, R>(xs: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < xs.length) {
      const k = next++;
      out[k] = await f(xs[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
  return out;
}

/** Options named in the parser's sources (string literals outside comments). */
function parsed(cli: Cli): Set<string> {
  const out = new Set<string>();
  for (const f of cli.sources) {
    for (const line of readFileSync(join(root, f), "utf8").split("\n")) {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue;
      for (const m of line.matchAll(/["'](--?[a-zA-Z][a-zA-Z0-9-]*)["']/g)) out.add(m[1]!);
    }
  }
  return out;
}

/** Options the usage lists, with the heading of the block each is in. */
function documented(usage: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = "";
  for (const line of usage.split("\n")) {
    if (/^\S.*:$/.test(line)) section = line;
    if (section.startsWith("--vdev kinds")) continue; // the --vdev syntax, not options
    const m = /^ {2}(-{1,2}[a-zA-Z][a-zA-Z0-9-]*)(?:[ =][^,]*)?(?:, (--?[a-zA-Z][a-zA-Z0-9-]*))?/.exec(line);
    if (!m) continue;
    out.set(m[1]!, section);
    if (m[2]) out.set(m[2], section);
  }
  return out;
}

describe.each(CLIS)("$name --help", (cli) => {
  let help: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    help = await run(cli, ["--help"]);
  });

  it("-h and --help: the usage on stdout, nothing on stderr, exit 0", async () => {
    expect(help.code, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^usage: /);
    const h = await run(cli, ["-h"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toBe(help.stdout);
  });

  it("documents every option its parser takes", () => {
    const doc = documented(help.stdout);
    const missing = [...parsed(cli)].filter((o) => !doc.has(o));
    expect(missing).toEqual([]);
  });

  // 120 s, not vitest's default 60: a bound on a hang only (runOwned SIGKILLs each child past 20 s);
  // the time is the children's Node starts (RUNS_AT_ONCE), not what the test checks.
  it("takes every option it documents (none is refused as unknown)", async () => {
    const opts = [...documented(help.stdout)].filter(([opt]) => opt !== "-h" && opt !== "--help");
    // A bad option after it: the run stops at a usage error whatever `opt` is, so nothing starts.
    const runs = await inParallel(opts, RUNS_AT_ONCE, ([opt, section]) => run(cli, [...cli.place(opt, section), "--zz-not-an-option"]));
    const refused: string[] = [];
    for (const [k, [opt]] of opts.entries()) {
      const r = runs[k]!;
      expect(r.code, `${opt}: ${r.stderr}`).toBe(2);
      // "unknown option X", "unknown EAL option 'X'", "unknown l2fwd option "X"": the one refused.
      const named = /unknown (?:\S+ )?option ['"]?([^'"\s;]+)/.exec(r.stderr)?.[1];
      if (named === opt) refused.push(`${opt}: ${r.stderr.trim()}`);
    }
    expect(refused).toEqual([]);
  }, 120_000);

  it("a bad option: one line on stderr naming it, exit 2, no stack", async () => {
    const r = await run(cli, cli.place("--zz-not-an-option", "l2fwd options"));
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain("--zz-not-an-option");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });
});

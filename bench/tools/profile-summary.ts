/**
 * Summarize V8 CPU profiles (from `pnpm bench -- --cpu-prof DIR`, one file
 * per thread per run): self time per function, highest first, per file.
 *
 *   node bench/dist/tools/profile-summary.js DIR_OR_FILES... [--top N]
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function selfTimes(p: Profile): { total: number; rows: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    const d = p.timeDeltas[i] ?? 0;
    total += d;
    if (!n) continue;
    const cf = n.callFrame;
    const where = cf.url ? ` ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}` : "";
    const key = `${cf.functionName || "(anonymous)"}${where}`;
    self.set(key, (self.get(key) ?? 0) + d);
  }
  return { total, rows: [...self.entries()].sort((a, b) => b[1] - a[1]) };
}

function main(): void {
  const args = process.argv.slice(2);
  let top = 15;
  const ti = args.indexOf("--top");
  if (ti >= 0) {
    top = Number(args[ti + 1]);
    args.splice(ti, 2);
  }
  if (args.length === 0 || !(top > 0)) {
    process.stderr.write("usage: profile-summary.js DIR_OR_FILES... [--top N]\n");
    process.exit(2);
  }
  const files = args.flatMap((a) =>
    statSync(a).isDirectory()
      ? readdirSync(a)
          .filter((f) => f.endsWith(".cpuprofile"))
          .sort()
          .map((f) => join(a, f))
      : [a],
  );
  for (const f of files) {
    const { total, rows } = selfTimes(JSON.parse(readFileSync(f, "utf8")) as Profile);
    const busy = rows.filter(([k]) => !k.startsWith("(idle)")).reduce((s, [, v]) => s + v, 0);
    process.stdout.write(`\n== ${basename(f)}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle\n`);
    for (const [k, v] of rows.slice(0, top)) process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(6)} %  ${k}\n`);
  }
}

main();

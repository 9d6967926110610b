// pnpm soak [-- --seconds N] [--phases K] [--rate PPS] [--pairs P] [--seed S]
//
// A bounded soak of l2fwd on virtio-pmd and the software device (see
// lib/soak.ts): phases rotating TX paths, queue sizes, frame sizes, features,
// bursts and lcores; counter drift between the layers checked 4x a second;
// exact conservation and no mbuf leak at the end of every phase. Exit 0 when
// everything held, 1 otherwise (each problem on its own line).
import { runSoak } from "./lib/soak.js";

const USAGE = `usage: pnpm soak [-- options]   (node scripts/dist/soak.js [options])

A bounded soak of l2fwd (in this process) between paced generators on every port:
phases rotating TX paths, queue sizes, frame sizes, features, bursts and lcores;
counter drift checked 4 times a second; exact conservation and no mbuf leak at the
end of every phase. Exit 0 when everything held, 1 otherwise, 2 for bad options.

  --seconds N   how long to run, 1..86400 (default 60)
  --phases K    phases, each with fresh memory, devices and lcores, 1..10000
                (default one per 10 s, at least 2)
  --rate PPS    each generator's rate, 1..10000000 (default 20000)
  --pairs P     port pairs per phase, 1..8 (default 3)
  --seed S      seed of the frame sizes and the plan, 0..4294967295 (default: the time; printed)
  -h, --help    this help`;

function parseArgs(argv: string[]): { seconds: number; phases?: number; rate?: number; pairs?: number; seed?: number } {
  const out: { seconds: number; phases?: number; rate?: number; pairs?: number; seed?: number } = { seconds: 60 };
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    }
    const v = args[i + 1];
    const num = (min: number, max: number): number => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < min || n > max) {
        process.stderr.write(`soak: ${a} needs a number in ${min}..${max}\n`);
        process.exit(2);
      }
      i++;
      return n;
    };
    if (a === "--seconds") out.seconds = num(1, 86_400);
    else if (a === "--phases") out.phases = Math.round(num(1, 10_000));
    else if (a === "--rate") out.rate = num(1, 10_000_000);
    else if (a === "--pairs") out.pairs = Math.round(num(1, 8));
    else if (a === "--seed") out.seed = Math.round(num(0, 0xffffffff));
    else {
      process.stderr.write(`soak: unknown option ${a}; use --seconds N, --phases K, --rate PPS, --pairs P, --seed S (see --help)\n`);
      process.exit(2);
    }
  }
  return out;
}

const opts = parseArgs(process.argv.slice(2));
const report = await runSoak({ ...opts, seed: opts.seed ?? (Date.now() >>> 0), log: (l) => console.log(l) });
const total = report.phases.reduce(
  (t, p) => ({ generated: t.generated + p.generated, forwarded: t.forwarded + p.forwarded, checks: t.checks + p.driftChecks }),
  { generated: 0, forwarded: 0, checks: 0 },
);
console.log(`soak: ${report.phases.length} phase(s), ${total.generated} frames generated, ${total.forwarded} forwarded, ${total.checks} drift checks, seed ${report.seed}`);
if (report.ok) {
  console.log("soak: OK (no drift, every frame accounted for, no mbuf leaked)");
} else {
  for (const p of report.problems) console.log(`soak: ${p}`);
  console.log(`soak: FAILED (${report.problems.length} problem(s)); replay with --seed ${report.seed}`);
  process.exitCode = 1;
}

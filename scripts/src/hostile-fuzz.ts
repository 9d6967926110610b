// pnpm fuzz [-- --seconds N] [--seed S] [--side device|driver|packed-device|packed-driver|split|packed|both|properties] [--runs R]
//
// Property-based runs over hostile rings in both directions (lib/fuzz.ts):
// the device (vhost) against random driver-written rings, and the driver
// (virtio-pmd) against a random, hostile device, on split and packed rings. Bounded in time; prints its
// seed; a failure (an invariant broken, an exception, or a run that never
// returns: the batches run in a worker with a watchdog) prints the seed that
// replays it. Exit 0 when nothing failed, 1 otherwise.
// --side properties: the unit property tests (ring, vhost's wires and device, virtio-pmd's packed
// driver) round after round on fresh seeds instead (lib/property-rounds.ts, TPDK_PROPERTY_SEED).
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FUZZ_SIDES, type FuzzSide } from "./lib/fuzz.js";
import { superviseFuzz } from "./lib/fuzz-supervisor.js";
import { PROPERTY_FILES, runPropertyRounds } from "./lib/property-rounds.js";

const USAGE = `usage: pnpm fuzz [-- options]   (node scripts/dist/hostile-fuzz.js [options])

Property-based runs over hostile rings in both directions: the device (vhost) against
random driver-written rings, the driver (virtio-pmd) against a random, hostile device;
split rings (virtio 1.2 §2.7) and packed rings (§2.8).
Batch b uses seed S + b; a failure prints the seed that replays it. Exit 0 when nothing
failed, 1 otherwise, 2 for bad options.

  --seconds N                  how long to run, 1..86400 (default 60)
  --seed S                     first batch's seed, 0..4294967295 (default: the time; printed)
  --side SIDE                  device, driver (split rings), packed-device, packed-driver,
                               split (both split sides), packed (both packed sides),
                               both (all four; the default);
                               properties: instead, the unit property tests (ring, vhost's
                               wires and device, virtio-pmd's packed driver) in rounds, each
                               a vitest run of their files with TPDK_PROPERTY_SEED=S + round;
                               a failure prints the command that replays it
  --runs R                     fast-check runs per batch, 1..100000 (default 25; not with properties)
  -h, --help                   this help`;

interface Args {
  seconds: number;
  seed: number;
  sides: FuzzSide[];
  runs: number;
  /** --side properties */
  properties: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { seconds: 60, seed: Date.now() >>> 0, sides: [...FUZZ_SIDES], runs: 25, properties: false };
  let runsGiven = false;
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const fail = (m: string): never => {
    process.stderr.write(`fuzz: ${m}\n`);
    process.exit(2);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    }
    const v = args[++i];
    const num = (min: number, max: number): number => {
      const n = Number(v);
      if (v === undefined || !Number.isInteger(n) || n < min || n > max) fail(`${a} needs an integer in ${min}..${max}`);
      return n;
    };
    if (a === "--seconds") out.seconds = num(1, 86_400);
    else if (a === "--seed") out.seed = num(0, 0xffffffff);
    else if (a === "--runs") {
      out.runs = num(1, 100_000);
      runsGiven = true;
    } else if (a === "--side") {
      out.properties = v === "properties";
      if (v === "both" || v === "properties") out.sides = [...FUZZ_SIDES];
      else if (v === "split") out.sides = ["device", "driver"];
      else if (v === "packed") out.sides = ["packed-device", "packed-driver"];
      else if ((FUZZ_SIDES as readonly string[]).includes(v ?? "")) out.sides = [v as FuzzSide];
      else fail(`--side ${v}: use device, driver, packed-device, packed-driver, split, packed, both or properties`);
    } else fail(`unknown option ${a}; use --seconds N, --seed S, --side SIDE, --runs R (see --help)`);
  }
  if (out.properties && runsGiven) fail("--runs is not an option of --side properties (each property keeps its own number of cases)");
  return out;
}

const a = parseArgs(process.argv.slice(2));
if (a.properties) {
  console.log(`fuzz: properties on fresh seeds from ${a.seed}, ${a.seconds} s, ${PROPERTY_FILES.length} files`);
  const t0 = performance.now();
  const r = await runPropertyRounds({ seconds: a.seconds, seed: a.seed, log: (l) => console.log(l) });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`fuzz: ${r.rounds} round(s) in ${secs} s (TPDK_PROPERTY_SEED ${r.seeds[0]}..${r.seeds[1]})`);
  if (r.failure) {
    const out = r.failure.output.split("\n");
    console.log(`fuzz: FAILED on TPDK_PROPERTY_SEED=${r.failure.seed}; the round's output${out.length > 200 ? " (last 200 lines)" : ""}:`);
    console.log(out.slice(-200).join("\n"));
    console.log(`fuzz: replay with: ${r.failure.replay}`);
    process.exit(1);
  }
  console.log("fuzz: OK (no property failed)");
  process.exit(0);
}
console.log(`fuzz: seed ${a.seed}, ${a.seconds} s, sides ${a.sides.join(", ")}, ${a.runs} runs per batch`);
const t0 = performance.now();
const r = await superviseFuzz({ seconds: a.seconds, seed: a.seed, sides: a.sides, runsPerBatch: a.runs, log: (l) => console.log(l) });
const secs = ((performance.now() - t0) / 1000).toFixed(1);
console.log(`fuzz: ${r.batches} batch(es) in ${secs} s (seeds ${r.seeds[0]}..${r.seeds[1]}): ${a.sides.map((sd) => `${r.runs[sd]} ${sd} runs`).join(", ")}`);
const d = r.stats.device;
if (d.scenarios > 0) {
  console.log(
    `fuzz: device side: ${d.scenarios} scenarios, ${d.rounds} rounds: ${d.rxPackets} frames delivered, ${d.rxDropped} missed/dropped, ` +
      `${d.txPackets} TX frames sent, ${d.txDropped} TX chains dropped, ${d.chainErrors} malformed chains counted, ${d.needsReset} needed a reset`,
  );
}
const p = r.stats.driver;
if (p.scenarios > 0) {
  console.log(
    `fuzz: driver side: ${p.scenarios} scenarios (${p.hostile} hostile): ${p.received} packets received, ${p.sent} sent, ` +
      `${p.ierrors} RX errors and ${p.oerrors} TX errors counted, rx_nombuf ${p.rxNombuf}, ring_full ${p.txRingFull}`,
  );
}
const pd = r.stats["packed-device"];
if (pd.scenarios > 0) {
  console.log(
    `fuzz: packed device side: ${pd.scenarios} scenarios: ${pd.rxPackets} frames delivered, ${pd.rxDropped} missed/dropped, ` +
      `${pd.txPackets} TX frames sent, ${pd.txDropped} TX lists dropped, ${pd.needsReset} needed a reset`,
  );
}
const pp = r.stats["packed-driver"];
if (pp.scenarios > 0) {
  console.log(
    `fuzz: packed driver side: ${pp.scenarios} scenarios: ${pp.received} packets received, ${pp.sent} sent, ` +
      `${pp.ierrors} RX errors and ${pp.oerrors} TX errors counted`,
  );
}
if (r.failure) {
  const f = r.failure;
  const file = join(tmpdir(), `tpdk-fuzz-${f.side}-${f.seed}.json`);
  try {
    writeFileSync(file, JSON.stringify(f.counterexample, null, 1));
  } catch {
    // the report below still has it
  }
  const report = f.report.length > 4000 ? `${f.report.slice(0, 4000)}\n... (${f.report.length} characters)` : f.report;
  console.log(`fuzz: FAILED on the ${f.side} side\n${report}`);
  console.log(`fuzz: the scenario (JSON) is in ${file}`);
  console.log(`fuzz: replay with: pnpm fuzz -- --side ${f.side} --seed ${f.seed} --runs ${f.runs}`);
  process.exitCode = 1;
} else {
  console.log("fuzz: OK (no property failed)");
}

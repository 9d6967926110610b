/**
 * The host's line-move cost between two CPUs (bench/lib/line-move.ts), for A/Bs on a host whose speed
 * has levels: run it between runs (1 s) and label each pair by it.
 *
 *   node bench/dist/tools/line-move.js [--ms 1000] [--cpus 0,1]
 *
 * Prints one line: "line move: round trip <median> ns (p10 <..>, p90 <..>), <n> batches, CPUs a,b[, not pinned]".
 */
import { measureLineMove } from "../lib/line-move.js";
import { checkArgs, opt, positiveInt } from "./args.js";

const USAGE =
  "usage: node bench/dist/tools/line-move.js [--ms 1000] [--cpus 0,1]\n" +
  "  one cache line bounced between the two CPUs for --ms ms; prints its round trip (median, p10, p90).";
checkArgs("line-move", USAGE, { values: ["--ms", "--cpus"] });
const ms = positiveInt("line-move", "--ms", "1000");
const cpuArg = opt("--cpus", "0,1");
const cpus = cpuArg.split(",").map(Number);
if (cpus.length !== 2 || !cpus.every((c) => Number.isInteger(c) && c >= 0) || cpus[0] === cpus[1]) {
  console.error(`line-move: option --cpus must be two different CPU numbers, e.g. --cpus 0,1 (got '${cpuArg}')`);
  process.exit(2);
}
const r = await measureLineMove(ms, [cpus[0]!, cpus[1]!]);
const f = (n: number): string => n.toFixed(0);
console.log(
  `line move: round trip ${f(r.medianNs)} ns (p10 ${f(r.p10Ns)}, p90 ${f(r.p90Ns)}), ${r.batches} batches, CPUs ${cpus.join(",")}${r.pinned ? "" : ", not pinned"}`,
);

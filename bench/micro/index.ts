/**
 * tpdk micro-benchmarks: ring round trips by burst size, mempool get/put
 * (single, bulk, with and without the lcore cache), virtio-pmd TX per path
 * and RX with refill against a fake device, and the push path's header
 * write against skip. Prints the environment and a markdown table of median
 * ns per operation and per object.
 *
 *   node bench/dist/micro/index.js [--quick] [--time MS] [--only ring|mempool|pmd|header] (options.ts)
 */
import { cpus } from "node:os";
import { LCORE_ID_ANY, Memory, runMain, setLcoreId } from "@tpdk/eal";
import { formatTable, runCases, type MicroCase } from "./harness.js";
import { ringCases } from "./ring.bench.js";
import { mempoolCases } from "./mempool.bench.js";
import { pmdCases } from "./pmd.bench.js";
import { headerCases } from "./header.bench.js";
import { MICRO_USAGE, parseMicroArgs } from "./options.js";
import { cpuModel } from "../lib/machine.js";

async function main(): Promise<number> {
  // `pnpm bench:micro -- ...` hands us the script runner's own "--" first.
  const argv = process.argv.slice(2);
  const o = parseMicroArgs(argv[0] === "--" ? argv.slice(1) : argv);
  if (o.help) {
    console.log(MICRO_USAGE);
    return 0;
  }
  const time = o.timeMs;
  const only = o.only;
  const mem = Memory.create(256 << 20);
  const cases: MicroCase[] = [];
  if (!only || only === "ring") cases.push(...ringCases(mem));
  if (!only || only === "mempool") cases.push(...mempoolCases(mem));
  if (!only || only === "pmd") cases.push(...pmdCases(mem));
  if (!only || only === "header") cases.push(...headerCases(mem));

  console.log(`# tpdk micro-benchmarks`);
  console.log(`CPU: ${cpuModel()} (${cpus().length} logical CPUs)`);
  console.log(`Node: ${process.version}  date: ${new Date().toISOString()}  time/case: ${time} ms`);
  console.log("");
  const rows = await runCases(cases, { time, warmupTime: Math.min(200, time / 2) });
  setLcoreId(LCORE_ID_ANY);
  console.log(formatTable(rows));
  return 0;
}

runMain(main, { prog: "bench:micro" });

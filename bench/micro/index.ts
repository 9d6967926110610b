/**
 * tpdk micro-benchmarks: ring round trips by burst size, mempool get/put
 * (single, bulk, with and without the lcore cache), virtio-pmd TX per path
 * and RX with refill against a fake device, and the push path's header
 * write against skip. Prints the environment and a markdown table of median
 * ns per operation and per object.
 *
 *   node bench/dist/micro/index.js [--quick] [--time MS] [--only ring|mempool|pmd|header]
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { LCORE_ID_ANY, Memory, setLcoreId } from "@tpdk/eal";
import { formatTable, runCases, type MicroCase } from "./harness.js";
import { ringCases } from "./ring.bench.js";
import { mempoolCases } from "./mempool.bench.js";
import { pmdCases } from "./pmd.bench.js";
import { headerCases } from "./header.bench.js";

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? "unknown";
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const time = Number(arg("--time") ?? (quick ? 100 : 400));
  const only = arg("--only");
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
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

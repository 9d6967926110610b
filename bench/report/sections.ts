import { levelCell } from "../lib/host-level.js";
import { type Agg, fmt, fmtAgg } from "../lib/summary.js";
import type { CaseSummary } from "../pipeline/aggregate.js";
import { fmtRate } from "../pipeline/plan.js";
import { jitterTarget } from "../jitter/report.js";
import type { DpdkRow } from "../dpdk/compare.js";
import type { BenchResults } from "./results.js";
import type { Table } from "./table.js";

/** The tables of a results document (shared by the terminal and the markdown report). */

const gcCell = (c: CaseSummary): string => `${fmt(c.gcLcore.max)}/${fmt(c.gcDevice.max)}/${fmt(c.gcMain.max)}${c.gcIncomplete ? "?" : ""}`;
const pct = (a: Agg): string => (a.n === 0 ? "–" : a.max === 0 ? "0" : fmtAgg(a, 2));

export function throughputTable(cases: readonly CaseSummary[]): Table {
  return {
    header: ["size", "TX path", "burst", "Mpps", "Gbit/s", "ns/pkt", "kicks/pkt", "traps/pkt", "loss %", "rx miss %", "pkts/pass", "GC l/d/m", "CPU %", "runs"],
    align: ["r", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    rows: cases.map((c) => [
      String(c.config.frameSize),
      c.txPathSeen === c.config.txPath ? c.config.txPath : `${c.config.txPath} (${c.txPathSeen})`,
      String(c.config.burst),
      fmtAgg(c.mpps),
      fmt(c.gbps.median),
      fmt(c.nsPerPacket.median),
      fmt(c.kicksPerPacket.median, 2),
      fmt(c.trapsPerPacket.median, 2),
      pct(c.lossPct),
      fmt(c.rxMissPct.median, 2),
      fmt(c.pktsPerPass.median, 2),
      gcCell(c),
      cpuCell(c),
      runsCell(c),
    ]),
  };
}

export function featuresTable(cases: readonly CaseSummary[]): Table {
  return {
    header: ["in_order", "mrg_rxbuf", "TX path", "burst", "Mpps", "ns/pkt", "kicks/pkt", "loss %", "GC l/d/m", "CPU %", "runs"],
    align: ["r", "r", "l", "r", "r", "r", "r", "r", "r", "r", "r"],
    rows: cases.map((c) => [
      String(+c.config.inOrder),
      String(+c.config.mrgRxbuf),
      c.txPathSeen === c.config.txPath ? c.config.txPath : `${c.config.txPath} (${c.txPathSeen})`,
      String(c.config.burst),
      fmtAgg(c.mpps),
      fmt(c.nsPerPacket.median),
      fmt(c.kicksPerPacket.median, 2),
      pct(c.lossPct),
      gcCell(c),
      cpuCell(c),
      runsCell(c),
    ]),
  };
}

export function latencyTable(cases: readonly CaseSummary[]): Table {
  const us = (a: Agg | undefined): string => (a ? fmtAgg(a) : "–");
  return {
    header: ["offered", "TX path", "burst", "delivered Mpps", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "e2e loss %", "GC l/d/m", "max GC pause ms", "CPU %", "runs"],
    align: ["r", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    rows: cases.map((c) => [
      fmtRate(c.config.rate ?? 0),
      c.config.txPath,
      String(c.config.burst),
      fmtAgg(c.mpps),
      us(c.latency?.p50),
      us(c.latency?.p99),
      us(c.latency?.p999),
      us(c.latency?.max),
      pct(c.e2eLossPct),
      gcCell(c),
      fmt(c.gcMaxPauseMs.max, 2),
      cpuCell(c),
      runsCell(c),
    ]),
  };
}

export function dpdkTable(r: BenchResults): Table | null {
  const d = r.dpdk;
  return d && !d.skipped ? comparisonTable(d.rows) : null;
}

export function vhostUserTable(r: BenchResults): Table | null {
  const v = r.vhostUser;
  if (!v || v.skipped) return null;
  let t = comparisonTable(v.rows);
  // tpdk's GCs per thread inside the windows (lcore/main, most in any run), when traced.
  if (v.rows.some((row) => row.tpdkGc !== undefined)) {
    t = { header: [...t.header, "tpdk GC l/m"], align: [...t.align, "r"], rows: t.rows.map((cells, i) => [...cells, rowGcCell(v.rows[i]!)]) };
  }
  t = withLevelColumn(t, v.rows);
  // A ring column when the section ran with a layout recorded (split and/or packed).
  if (!v.rows.some((row) => row.ring !== undefined)) return t;
  return { header: ["ring", ...t.header], align: ["l", ...t.align], rows: t.rows.map((cells, i) => [v.rows[i]!.ring ?? "split", ...cells]) };
}

/** The host's level beside the ratio, when measured (--line-move): the line moves in the gaps around the row's tpdk runs. */
function withLevelColumn(t: Table, rows: readonly DpdkRow[]): Table {
  if (!rows.some((row) => row.lineMoves !== undefined)) return t;
  const at = t.header.indexOf("tpdk/DPDK") + 1;
  const ins = <T>(cells: readonly T[], x: T): T[] => [...cells.slice(0, at), x, ...cells.slice(at)];
  return { header: ins(t.header, "line move (level)"), align: ins(t.align, "l"), rows: t.rows.map((cells, i) => ins(cells, rowLevelCell(rows[i]!))) };
}

/** The line moves around the row's tpdk runs and the level they name; per level its median ratio when the runs span levels (lib/host-level.ts). */
function rowLevelCell(row: DpdkRow): string {
  const m = row.lineMoves ?? [];
  const r = row.pairRatios;
  return levelCell(r && r.length === m.length ? m.map((x, i) => ({ ...x, ratio: r[i]! })) : m);
}

function rowGcCell(row: DpdkRow): string {
  const g = row.tpdkGc;
  return g ? `${fmt(g.lcore.max)}/${fmt(g.main.max)}${g.incomplete ? "?" : ""}` : "–";
}

export function netVhostTable(r: BenchResults): Table | null {
  const v = r.netVhost;
  return v && !v.skipped ? withLevelColumn(comparisonTable(v.rows), v.rows) : null;
}

/** 64-byte frames plus preamble, start delimiter and inter-frame gap, in bits. */
const WIRE_BITS_64 = (64 + 20) * 8;

/** DPDK against tpdk per burst (64 B): Mpps (median and range), ns/packet and Gbit/s of the medians, the ratio. */
export function comparisonTable(rows: readonly DpdkRow[]): Table {
  const ns = (a: Agg): string => (a.n === 0 ? "–" : fmt(1e3 / a.median));
  const gbps = (a: Agg): string => (a.n === 0 ? "–" : fmt((a.median * WIRE_BITS_64) / 1e3));
  return {
    header: ["burst", "DPDK Mpps", "tpdk Mpps", "DPDK ns/pkt", "tpdk ns/pkt", "DPDK Gbit/s", "tpdk Gbit/s", "tpdk/DPDK", "CPU % (DPDK/tpdk)", "runs (DPDK/tpdk)"],
    align: ["r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    rows: rows.map((row) => [
      String(row.burst),
      fmtAgg(row.dpdk),
      fmtAgg(row.tpdk),
      ns(row.dpdk),
      ns(row.tpdk),
      gbps(row.dpdk),
      gbps(row.tpdk),
      ratioCell(row),
      `${row.dpdkCpu.n ? (100 * row.dpdkCpu.min).toFixed(0) : "–"}/${row.tpdkCpu.n ? (100 * row.tpdkCpu.min).toFixed(0) : "–"}`,
      `${row.dpdk.n}/${row.tpdk.n}${row.failures.length > 0 ? ` (+${row.failures.length} failed)` : ""}`,
    ]),
  };
}

/** The ratio; with per-run ratios (one back-end instance faced in turn) their range too: "87 % (70–90)". */
function ratioCell(row: DpdkRow): string {
  if (!Number.isFinite(row.ratio)) return "–";
  const r = row.pairRatios ?? [];
  const pc = (x: number): string => (100 * x).toFixed(0);
  return r.length > 1 ? `${pc(row.ratio)} % (${pc(Math.min(...r))}–${pc(Math.max(...r))})` : `${pc(row.ratio)} %`;
}

/** Lowest CPU share of the repetitions, %: below ~90 other processes took turns on the benchmark's CPUs. */
function cpuCell(c: CaseSummary): string {
  return c.cpuShare.n === 0 ? "–" : (100 * c.cpuShare.min).toFixed(0);
}

function runsCell(c: CaseSummary): string {
  const retried = c.attempts > c.runs ? ` (${c.attempts} tries)` : "";
  return c.failures.length > 0 ? `${c.runs}${retried} (+${c.failures.length} failed)` : `${c.runs}${retried}`;
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

/** The issue's targets against what was measured (null: not measured in this run). */
export function targets(r: BenchResults): TargetCheck[] {
  const at = (burst: number): CaseSummary | undefined =>
    r.throughput.find((c) => c.config.frameSize === 64 && c.config.burst === burst && c.config.txPath === "push") ??
    r.throughput.find((c) => c.config.frameSize === 64 && c.config.burst === burst);
  const best = (burst: number): CaseSummary | undefined =>
    r.throughput
      .filter((c) => c.config.frameSize === 64 && c.config.burst === burst && c.runs > 0)
      .sort((a, b) => b.mpps.median - a.mpps.median)[0] ?? at(burst);
  const out: TargetCheck[] = [];
  const b32 = best(32);
  out.push({
    target: "≥ 10 Mpps delivered, 64 B, burst 32, one forwarding lcore",
    measured: b32 && b32.runs > 0 ? `${fmt(b32.mpps.median)} Mpps (${b32.config.txPath})` : "not measured",
    met: b32 && b32.runs > 0 ? b32.mpps.median >= 10 : null,
  });
  const b1 = best(1);
  out.push({
    target: "≥ 3 Mpps at burst 1",
    measured: b1 && b1.runs > 0 ? `${fmt(b1.mpps.median)} Mpps (${b1.config.txPath})` : "not measured",
    met: b1 && b1.runs > 0 ? b1.mpps.median >= 3 : null,
  });
  const all = [...new Map([...r.throughput, ...r.features, ...r.latency].map((c) => [c.key, c])).values()].filter((c) => c.runs > 0);
  if (all.length > 0) {
    const l = Math.max(...all.map((c) => c.gcLcore.max));
    const d = Math.max(...all.map((c) => c.gcDevice.max));
    const withGc = all.filter((c) => c.gcLcore.max > 0 || c.gcDevice.max > 0).length;
    out.push({
      target: "no GC in steady state (lcore and device threads, measurement window)",
      measured: `at most ${l} on the lcore, ${d} on the device thread per run; ${withGc} of ${all.length} configurations had any`,
      met: l === 0 && d === 0,
    });
  } else out.push({ target: "no GC in steady state", measured: "not measured", met: null });
  const vu = (r.vhostUser?.rows ?? []).filter((row) => row.tpdkGc && row.tpdkGc.lcore.n > 0);
  if (vu.length > 0) {
    const l = Math.max(...vu.map((row) => row.tpdkGc!.lcore.max));
    const m = Math.max(...vu.map((row) => row.tpdkGc!.main.max));
    const incomplete = vu.some((row) => row.tpdkGc!.incomplete);
    out.push({
      target: "no GC in any measured window on any thread of tpdk's vhost-user l2fwd (lcore, main)",
      measured: `at most ${l} on the lcore, ${m} on the main thread per run (${vu.length} rows)${incomplete ? "; some GCs unattributed" : ""}`,
      met: l === 0 && m === 0 && !incomplete,
    });
  }
  const lat = r.latency.filter((c) => c.latency && c.config.rate === 1e6);
  if (lat.length > 0) {
    const worst = Math.max(...lat.map((c) => c.latency!.p99.median));
    out.push({ target: "p99 latency ≤ 20 µs at 1 Mpps", measured: `worst TX path: p99 ${fmt(worst)} µs (median of runs)`, met: worst <= 20 });
  } else out.push({ target: "p99 latency ≤ 20 µs at 1 Mpps", measured: "not measured", met: null });
  if (r.jitter?.summary) out.push(jitterTarget(r.jitter.summary));
  return out;
}

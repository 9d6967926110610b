/**
 * ns per frame per step (used-ring poll and RX, refill, mbuf reset, the app, TX, reclaim,
 * statistics, the Atomics builtins, ...) from `perf` samples of one CPU, for tpdk's front-end
 * and DPDK's side by side (issue #14's budget; bench/lib/perf-budget.ts holds the steps'
 * symbol patterns). Each step's share of the CPU's samples in a window x 1e9 / the window's rate.
 *
 * Record a whole vu-shared batch on the front-end's CPU, l2fwd with V8's perf map, and beside it the side-band
 * events of every CPU (perf -C 0 keeps the MMAP events of CPU 0 only: a run's process that maps its code on CPU 1
 * has samples perf cannot place; a dummy event samples nothing, so CPU 1, the back-end's, is left alone), then read it:
 *   perf record -a -e dummy -k realtime -o /tmp/sb.data & SB=$!
 *   perf record -C 0 -e cpu-clock -F 2999 -k realtime -o /tmp/b.data -- \
 *     node bench/dist/tools/vu-shared.js --sides dpdk,/work/main --backends 1 --runs 3 \
 *       --node-flag --perf-basic-prof --keep /tmp/keep
 *   kill -INT $SB
 *   node bench/dist/tools/perf-budget.js --data /tmp/b.data --cpu 0 --list
 *   node bench/dist/tools/perf-budget.js --data /tmp/b.data --sideband /tmp/sb.data --cpu 0 \
 *     --col tpdk,keep=/tmp/keep/1-2-main-b32.txt,9.1 --col DPDK,pid=4242,10.3
 * or sample the CPU now for S seconds (a run in its window): --record S --mpps R.
 *
 * A column is LABEL,WINDOW,MPPS[,pid=PID] (the front-end's process: others' samples are one row);
 * WINDOW is FROM..TO (perf's seconds: with -k realtime, epoch s), keep=FILE (vu-shared --keep's first line, the run's measured window), or pid=PID (that
 * process's samples on the CPU: [last - A, last - B] s, --tail A,B, default 5.5,1.0). Columns with
 * the same label are printed as one, the mean of their runs' ns per frame.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BY_NAME,
  type CodeRange,
  DEFAULT_RULES,
  NET_VHOST_RULES,
  type StepRule,
  type JitEntry,
  type Window,
  baseName,
  budget,
  budgetTable,
  mergeRuns,
  parseFdeRanges,
  parseLoads,
  parseNmRanges,
  parsePerfMap,
  parsePerfScript,
  processes,
  resolveUnmapped,
  tailWindow,
  toFileOffsets,
} from "../lib/perf-budget.js";
import { checkArgs, opt, optAll } from "./args.js";

const USAGE =
  "usage: node bench/dist/tools/perf-budget.js (--script FILE | --data PERF_DATA | --record S [--mpps R]) [--cpu N]\n" +
  "         [--col LABEL,WINDOW,MPPS[,pid=PID]]... [--sideband FILE] [--tail A,B] [--window-cpu N] [--top N] [--by-name] [--steps front-end|net-vhost] [--list] [--save FILE]\n" +
  "  ns per frame per step from perf samples of one CPU (cpu-clock): each step's share of the CPU's samples in a\n" +
  "  window x 1e9 / the window's rate. --script: `perf script -F comm,pid,tid,cpu,time,event,ip,sym,dso --show-mmap-events`\n" +
  "  text; --data: a perf.data (this tool runs perf script; V8's /tmp/perf-<pid>.map files must still be there);\n" +
  "  --record S: `perf record -C N -e cpu-clock -F 2999 -k realtime` for S seconds now, one column (--mpps R) over it all.\n" +
  "  WINDOW: FROM..TO (perf's seconds), keep=FILE (vu-shared --keep's window line), pid=PID (that process's last\n" +
  "  sample - A .. - B s, --tail A,B, default 5.5,1.0); with pid=PID, keep=FILE (its GC trace's pid) or a fourth field\n" +
  "  pid=PID, other processes' samples are one row, 'other processes'. --cpu N: default 0. --list: processes on the CPU with their spans.\n" +
  "  Columns with the same LABEL are one column, the mean of their runs' ns per frame.\n" +
  "  --sideband FILE: MMAP events of a side-band recording over the same time (`perf record -a -e dummy -k realtime`,\n" +
  "  perf.data or its perf script text): samples perf could not place (their process mapped its code on another CPU\n" +
  "  than -C's) are placed and named from them (stripped DSOs by .eh_frame, JIT code by /tmp/perf-<pid>.map).\n" +
  "  --by-name: one row per function (top N with --top N) instead of the steps (e.g. the back-end's CPU: --cpu 1).\n" +
  "  --steps: the step map: front-end (default: tpdk's virtio-pmd and DPDK's net_virtio, the vhost-user section) or\n" +
  "  net-vhost (a vhost-user back-end: tpdk's net_vhost and DPDK's vhost library, the net-vhost section).\n" +
  "  --window-cpu N: the CPU whose samples pid=PID windows are found on (default --cpu; --cpu 1 --window-cpu 0 for the\n" +
  "  back-end's CPU in the front-ends' windows, every process counted).\n" +
  "  --top N: each step's N heaviest names per column. --save FILE: the perf script text. Code perf did not name is\n" +
  "  named by the DSO's symbols (nm) or, stripped, by function start from its .eh_frame (readelf), when binutils is there.";

const argv = process.argv.slice(2);

function fail(msg: string): never {
  console.error(`perf-budget: ${msg}`);
  process.exit(2);
}

checkArgs("perf-budget", USAGE, {
  values: ["--sideband", "--window-cpu", "--script", "--data", "--record", "--mpps", "--cpu", "--tail", "--top", "--save", "--steps"],
  repeatable: ["--col"],
  flags: ["--list", "--by-name"],
});
const given = (name: string): boolean => argv.includes(name);
/** An option's value, undefined when absent (checkArgs let it appear at most once). */
const one = (name: string): string | undefined => (given(name) ? opt(name, "") : undefined);
const num = (name: string, v: string, ok: (x: number) => boolean, what: string): number => {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || !ok(x)) fail(`option ${name} must be ${what} (got '${v}')`);
  return x;
};

const sources = ["--script", "--data", "--record"].filter((s) => given(s));
if (sources.length !== 1) fail("give exactly one of --script FILE, --data PERF_DATA, --record S (--help)");
const cpu = num("--cpu", one("--cpu") ?? "0", (x) => Number.isInteger(x) && x >= 0, "a CPU number >= 0");
const windowCpu = num("--window-cpu", one("--window-cpu") ?? String(cpu), (x) => Number.isInteger(x) && x >= 0, "a CPU number >= 0");
const top = num("--top", one("--top") ?? "0", (x) => Number.isInteger(x) && x >= 0, "an integer >= 0");
const tailParts = (one("--tail") ?? "5.5,1.0").split(",");
if (tailParts.length !== 2) fail(`option --tail must be A,B in seconds, A > B >= 0 (got '${one("--tail")}')`);
const [tailA, tailB] = tailParts.map((p) => num("--tail", p, (x) => x >= 0, "A,B in seconds, A > B >= 0")) as [number, number];
if (!(tailA > tailB)) fail(`option --tail must be A,B in seconds, A > B >= 0 (got '${one("--tail")}')`);
const list = given("--list");
const STEP_MAPS: Record<string, readonly StepRule[]> = { "front-end": DEFAULT_RULES, "net-vhost": NET_VHOST_RULES };
const stepsOpt = one("--steps") ?? "front-end";
const stepMap = STEP_MAPS[stepsOpt];
if (stepMap === undefined) fail(`option --steps must be front-end or net-vhost (got '${stepsOpt}')`);
if (stepsOpt !== "front-end" && given("--by-name")) fail("give --steps or --by-name, not both (--by-name has no steps)");
const record = one("--record");
const recordS = record === undefined ? 0 : num("--record", record, (x) => x > 0 && x <= 600, "seconds, > 0 and <= 600");
const mppsOpt = one("--mpps");
if (mppsOpt !== undefined && record === undefined) fail("option --mpps goes with --record (a column carries its own rate: --col LABEL,WINDOW,MPPS)");
if (record !== undefined && given("--col")) fail("--record makes one column over the whole recording: give --mpps R, not --col");
const recordMpps = mppsOpt === undefined ? 0 : num("--mpps", mppsOpt, (x) => x > 0, "a rate in Mpps > 0");
if (record !== undefined && !list && mppsOpt === undefined) fail("option --record needs --mpps R (the rate in the recorded seconds), or --list");
if (!list && record === undefined && !given("--col")) fail("give at least one --col LABEL,WINDOW,MPPS, or --list (--help)");

/** One --col as given: LABEL,WINDOW,MPPS[,pid=PID], WINDOW FROM..TO (epoch s), keep=FILE (vu-shared --keep) or pid=PID. */
interface ColSpec {
  spec: string;
  label: string;
  mpps: number;
  /** The fourth field's pid=PID: the process whose samples count. */
  pid: number | undefined;
  window:
    | { kind: "range"; from: number; to: number }
    | { kind: "keep"; span: { from: number; to: number }; pid: number | undefined }
    | { kind: "pid"; pid: number };
}

function parseCol(spec: string): ColSpec {
  const parts = spec.split(",");
  if (parts.length < 3 || parts.length > 4 || parts[0] === "") fail(`option --col must be LABEL,WINDOW,MPPS[,pid=PID] (got '${spec}')`);
  const [label, w, r, p] = parts as [string, string, string, string | undefined];
  let pid: number | undefined;
  if (p !== undefined) {
    const pm = /^pid=(\d+)$/.exec(p);
    if (!pm) fail(`option --col ${spec}: the fourth field must be pid=PID (the front-end's process)`);
    pid = Number(pm[1]);
  }
  const mpps = num("--col", r, (x) => x > 0, `a rate in Mpps > 0 as the third field of LABEL,WINDOW,MPPS in '${spec}'`);
  let m: RegExpExecArray | null;
  if ((m = /^(\d+(?:\.\d+)?)\.\.(\d+(?:\.\d+)?)$/.exec(w))) {
    const from = Number(m[1]);
    const to = Number(m[2]);
    if (!(to > from)) fail(`option --col ${spec}: the window's end must be after its start`);
    return { spec, label, mpps, pid, window: { kind: "range", from, to } };
  }
  if (w.startsWith("keep=")) {
    const f = w.slice(5);
    if (!existsSync(f)) fail(`option --col ${spec}: no such file ${f}`);
    const kept = readFileSync(f, "utf8");
    const k = /^tpdk-vu-window-epoch-ms (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)/.exec(kept);
    if (!k) fail(`option --col ${spec}: ${f} does not start with vu-shared's 'tpdk-vu-window-epoch-ms FROM TO' line`);
    // The run's pid: V8's --trace-gc lines start [PID:0xISOLATE].
    const gp = /^\[(\d+):0x[0-9a-f]+\]/m.exec(kept);
    return { spec, label, mpps, pid, window: { kind: "keep", span: { from: Number(k[1]) / 1000, to: Number(k[2]) / 1000 }, pid: gp ? Number(gp[1]) : undefined } };
  }
  if ((m = /^pid=(\d+)$/.exec(w))) return { spec, label, mpps, pid, window: { kind: "pid", pid: Number(m[1]) } };
  fail(`option --col ${spec}: WINDOW must be FROM..TO, keep=FILE or pid=PID`);
}

// Checked before any perf text is read: a malformed --col is one line at once, not after a large --script or --data.
const colSpecs = optAll("--col").map(parseCol);

/** perf is needed for --data and --record: one line if it is missing. */
function perf(args: string[], what: string): string {
  const r = spawnSync("perf", args, { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.error) fail(`perf not found or not runnable (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); install linux-perf`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status}): ${(r.stderr || "").trim().split("\n").slice(-1)[0] ?? ""}`);
  return r.stdout;
}

const SCRIPT_ARGS = ["script", "-F", "comm,pid,tid,cpu,time,event,ip,sym,dso", "--show-mmap-events"];
let text: string;
let tmp = "";
let recorded: { from: number; to: number } | null = null;
if (given("--script")) {
  const f = one("--script")!;
  if (!existsSync(f)) fail(`--script ${f}: no such file`);
  text = readFileSync(f, "utf8");
} else if (given("--data")) {
  text = scriptText(one("--data")!, "--data");
} else {
  tmp = mkdtempSync(join(tmpdir(), "perf-budget-"));
  const data = join(tmp, "perf.data");
  const t0 = Date.now() / 1000;
  perf(["record", "-C", String(cpu), "-e", "cpu-clock", "-F", "2999", "-k", "realtime", "-o", data, "--", "sleep", String(recordS)], "perf record");
  recorded = { from: t0, to: Date.now() / 1000 };
  text = perf([...SCRIPT_ARGS, "-i", data], "perf script");
}
if (tmp) rmSync(tmp, { recursive: true, force: true });
const save = one("--save");
if (save) writeFileSync(save, text);

/** A perf.data (its "PERFILE2" magic: perf script runs) or perf script text. */
function scriptText(f: string, opt: string): string {
  if (!existsSync(f)) fail(`${opt} ${f}: no such file`);
  const b = Buffer.alloc(8);
  const fd = openSync(f, "r");
  readSync(fd, b, 0, 8, 0);
  closeSync(fd);
  return b.toString("latin1") === "PERFILE2" ? perf([...SCRIPT_ARGS, "-i", f], "perf script") : readFileSync(f, "utf8");
}
const sideband = one("--sideband");
if (sideband !== undefined) text += `\n${scriptText(sideband, "--sideband")
  .split("\n")
  .filter((l) => l.includes("PERF_RECORD_MMAP"))
  .join("\n")}\n`;

const script = parsePerfScript(text);
const placed = resolveUnmapped(script);
if (script.samples.length === 0) fail(`no samples in the perf script text (${script.skipped} lines not understood)`);
const onCpu = script.samples.filter((s) => s.cpu === cpu).length;
if (onCpu === 0) fail(`no samples of CPU ${cpu} (the text's CPUs: ${[...new Set(script.samples.map((s) => s.cpu))].join(" ")}; was it recorded with -C or -a?)`);

if (list) {
  console.log(`CPU ${cpu}: ${onCpu} samples; per process (pid comm samples first..last, s):`);
  for (const p of processes(script, cpu).slice(0, 30)) console.log(`  ${p.pid} ${p.comm} ${p.samples} ${p.first.toFixed(3)}..${p.last.toFixed(3)} (${(p.last - p.first).toFixed(1)} s)`);
  if (record === undefined && !given("--col")) process.exit(0);
}

/**
 * The windows of this run's columns: FROM..TO as given, keep=FILE from vu-shared's first line,
 * pid=PID the process's last samples on --window-cpu (--tail).
 */
function windowOf(c: ColSpec): Window {
  const { label, mpps, spec } = c;
  if (c.window.kind === "range") return { label, from: c.window.from, to: c.window.to, mpps, pid: c.pid };
  if (c.window.kind === "keep") return { label, ...c.window.span, mpps, pid: c.pid ?? c.window.pid };
  const t = tailWindow(script, windowCpu, c.window.pid, tailA, tailB);
  if (!t) fail(`option --col ${spec}: pid ${c.window.pid} has no samples on CPU ${windowCpu} (--list)`);
  return { label, ...t, mpps, pid: c.pid ?? c.window.pid };
}

// Another CPU than the windows' (the back-end's, --cpu 1 --window-cpu 0): every process there counts, no pid filter.
const windows: Window[] = recorded
  ? [{ label: `CPU ${cpu}`, ...recorded, mpps: recordMpps }]
  : colSpecs.map(windowOf).map((w) => (cpu === windowCpu ? w : { ...w, pid: undefined }));

// Code perf could not name (stripped DSOs; DSOs whose samples the side-band events placed): the DSO's symbols (nm)
// where it has them, else its functions' ranges from .eh_frame (readelf), as file offsets (readelf -l's LOADs).
const ranges = new Map<string, CodeRange[]>();
const inWindows = (t: number): boolean => windows.some((w) => t >= w.from && t < w.to);
const tool = (cmd: string, args: string[]): string | null => {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  return r.status === 0 ? r.stdout : null;
};
for (const dso of new Set(script.samples.filter((s) => s.cpu === cpu && s.sym === "[unknown]" && s.dso.startsWith("/") && inWindows(s.time)).map((s) => s.dso))) {
  if (!existsSync(dso)) continue;
  const loads = parseLoads(tool("readelf", ["-lW", dso]) ?? "");
  if (loads.length === 0) continue;
  const syms = parseNmRanges(tool("nm", ["-S", "--defined-only", dso]) ?? "");
  const r = syms.length > 0 ? syms : statSync(dso).size > 64 << 20 ? [] : parseFdeRanges(tool("readelf", ["--debug-dump=frames", dso]) ?? "");
  if (r.length) ranges.set(dso, toFileOffsets(r, loads));
}

// JIT code whose mapping perf did not see (placed in an //anon mapping from the side-band events): V8's perf map.
const jit = new Map<number, JitEntry[]>();
for (const pid of new Set(script.samples.filter((s) => s.cpu === cpu && s.dso === "//anon" && inWindows(s.time)).map((s) => s.pid))) {
  const f = `/tmp/perf-${pid}.map`;
  if (existsSync(f)) jit.set(pid, parsePerfMap(readFileSync(f, "utf8")));
}
const byName = given("--by-name");
const rules = byName ? BY_NAME : stepMap;
const cols = budget(script, cpu, windows, rules, ranges, jit);
for (const c of cols) {
  const w = c.window;
  const span = `${new Date(w.from * 1000).toISOString().slice(11, 19)}-${new Date(w.to * 1000).toISOString().slice(11, 19)} UTC`;
  console.log(`${w.label}: ${w.from.toFixed(3)}..${w.to.toFixed(3)} (${(w.to - w.from).toFixed(2)} s${w.from > 1e9 ? `, ${span}` : ""}), ${c.samples} samples of CPU ${cpu}, ${w.mpps} Mpps`);
  if (c.samples === 0) console.log(`  (no samples of CPU ${cpu} in this window: check its times against --list)`);
}
console.log(`\nns per frame on CPU ${cpu} (the step's share of the CPU's samples x 1e9 / rate):\n`);
console.log(budgetTable(mergeRuns(cols), rules, top));
// Samples nothing could place in a mapping: the process's MMAP events were not recorded (perf record -C N records the
// side-band events of its CPUs only: a process that execs or maps code on another CPU loses them; --sideband has them).
for (const w of windows) {
  const mine = script.samples.filter((s) => s.cpu === cpu && s.time >= w.from && s.time < w.to && s.pid !== 0 && (w.pid === undefined || s.pid === w.pid));
  const lost = mine.filter((s) => s.dso === "[unknown]").length;
  if (mine.length > 0 && lost / mine.length > 0.02)
    console.log(`\nnote: ${w.label} ${w.from.toFixed(1)}..: ${((100 * lost) / mine.length).toFixed(0)} % of its samples have no mapping (row 'other', [unknown]): add --sideband (perf record -a -e dummy over the same time) or record -a`);
}
const named = [...ranges.entries()].map(([d, r]) => `${baseName(d)}${r[0]?.[2] === undefined ? " (stripped: by .eh_frame function start)" : " (nm)"}`);
if (named.length) console.log(`\nnamed here, not by perf: ${named.join(", ")}`);
if (placed) console.log(`${placed} samples without a mapping in perf's view placed by the side-band MMAP events${jit.size ? `, JIT code of pid ${[...jit.keys()].join(" ")} named from /tmp/perf-<pid>.map` : ""}`);

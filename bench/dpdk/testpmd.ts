import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ownedChild, ownedPath } from "@tpdk/testing/owned";
import { type GcAttribution, attributeGcs, parseGcMarks, parseTraceGc } from "../pipeline/trace-gc.js";
import {
  type FrontEndKind,
  MEM_MB,
  type PairOptions,
  type PairRole,
  backEndCommand,
  forwarderBackEndCommand,
  frontEndCommand,
  generatorCommand,
  isNodeProgram,
  prefixOf,
  runtimeDir,
} from "./commands.js";
import { RxSampler, windowRate } from "./samples.js";
import { benchSock, sweepDeadBenches } from "./stale.js";

/**
 * Runs a vhost-user pair (commands.ts): DPDK's back-end facing DPDK's or
 * tpdk's front-end, one forwarding core each, the back-end on CPU 1 and the
 * front-end on CPU 0, the same CPUs as tpdk's device thread and lcore; or,
 * roles swapped (the net-vhost section), DPDK's generating front-end on
 * CPU 1 facing DPDK's or tpdk's forwarding back-end on CPU 0.
 *
 * Delivered rate = RX-packets of the generator's port (frames that made the
 * round trip), from the port statistics it prints every second (samples.ts).
 * With DPDK's front-end this is the "DPDK pair" of the dpdk section; the
 * vhost-user section alternates both front-ends against the same back-end,
 * the net-vhost section both back-ends against the same front-end.
 */

export const TESTPMD = "dpdk-testpmd";

export interface DpdkEnv {
  /** Absolute path of dpdk-testpmd, or null. */
  testpmd: string | null;
  /** Free 2 MB hugepages (2 x MEM_MB) and a hugetlbfs mount: use them; else --no-huge (much slower, noted). */
  hugepages: boolean;
  hugeNote: string;
  version: string;
}

export const INSTALL_HINT =
  "DPDK comparison skipped: dpdk-testpmd not found. On Debian/Ubuntu: apt-get install dpdk-dev " +
  "(dpdk-testpmd is in dpdk-dev), then reserve hugepages: dpdk-hugepages.py -p 2M --setup 512M (as root)";

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export function detectDpdk(): DpdkEnv {
  const testpmd = which(TESTPMD);
  let free = 0;
  let size = 0;
  try {
    const mi = readFileSync("/proc/meminfo", "utf8");
    free = Number(/HugePages_Free:\s+(\d+)/.exec(mi)?.[1] ?? 0);
    size = Number(/Hugepagesize:\s+(\d+)/.exec(mi)?.[1] ?? 0);
  } catch {
    // not Linux
  }
  let mounted = false;
  try {
    mounted = /\shugetlbfs\s/.test(readFileSync("/proc/mounts", "utf8"));
  } catch {
    // not Linux
  }
  const needMb = 2 * MEM_MB;
  const haveMb = (free * size) / 1024;
  const hugepages = mounted && haveMb >= needMb;
  const hugeNote = hugepages
    ? `${free} free ${size / 1024} MB hugepages`
    : `no hugepages (${mounted ? `${haveMb} MB free, need ${needMb}` : "no hugetlbfs mount"}): testpmd and l2fwd run with --no-huge, ` +
      `which is several times slower; reserve some with: dpdk-hugepages.py -p 2M --setup 512M`;
  let version = "";
  if (testpmd) {
    try {
      const st = readFileSync("/var/lib/dpkg/status", "utf8");
      const m = /Package: dpdk-dev\n(?:[^\n]+\n)*?Version: ([^\n]+)/.exec(st);
      version = m ? `DPDK ${m[1]} (Debian dpdk-dev)` : "DPDK";
    } catch {
      version = "DPDK";
    }
  }
  return { testpmd, hugepages, hugeNote, version };
}

export interface DpdkRun {
  burst: number;
  /** Delivered frames per second over the window (the back-end's RX). */
  pps: number;
  windowS: number;
  /**
   * CPU time both processes got in the window over 2 x window (each has one
   * busy forwarding core): about 1 when they had their CPUs to themselves.
   */
  cpuShare: number;
  /** Per-second samples of the back-end's RX rate in the window (Mpps). */
  samples: number[];
  /** tpdk's process with gcTrace: its GCs per thread (lcore, main) inside the window and over the run. */
  gc?: GcAttribution;
  /** The measured window in epoch ms (perf record -k realtime's clock: perf-budget.js --col LABEL,FROM..TO in s). */
  windowEpochMs?: [number, number];
  /** runVhostPair: the server's pid (role "back-end": the back-end under test; perf-budget.js --col ...,pid=PID). */
  serverPid?: number;
}

export interface DpdkRunOptions extends PairOptions {
  warmupS: number;
  durationS: number;
  /**
   * tpdk's l2fwd (a node command) runs with --trace-gc and the GC probe
   * preloaded in every thread (pipeline/gc-probe.cts, marks on stderr), and
   * the run reports its GCs per thread inside the window (DpdkRun.gc), as
   * the pipeline section does. Ignored for DPDK's processes.
   */
  gcTrace?: boolean;
  /** Extra node/V8 flags for a traced l2fwd (e.g. --trace-deopt; vu-ab.js --node-flag). */
  nodeFlags?: readonly string[];
  /** With gcTrace: the traced l2fwd's whole stdout and stderr are handed here when the run ends (vu-ab.js --keep). */
  keepTrace?: (text: string) => void;
  /** Every chunk of the pair server's stdout and stderr, as it comes (nv-ab.js --keep: a back-end's whole output). */
  serverOutput?: (chunk: string) => void;
}

const GC_PROBE = fileURLToPath(new URL("../pipeline/gc-probe.cjs", import.meta.url));

/** l2fwd's command with the GC probe: node's flags go before the script. */
function withGcProbe(cmd: readonly string[], nodeFlags: readonly string[] = []): string[] {
  return [cmd[0]!, "--expose-gc", "--trace-gc", ...nodeFlags, "--require", GC_PROBE, ...cmd.slice(1)];
}

/**
 * The listening side of a vhost-user pair, started once (startPairServer) and
 * faced by one client run after another (runPairClient): the vhost-user
 * section keeps one DPDK back-end instance running while the front-ends take
 * turns, because on this host an instance has a level of its own (bench
 * README, "Session 13: what sets a burst-32 run's level").
 */
export interface PairServer {
  readonly role: PairRole;
  readonly sock: string;
  readonly proc: ChildProcess;
  readonly exit: Promise<number>;
  /** The server's statistics (role "front-end": the back-end generates and counts). */
  readonly sampler: RxSampler;
  /** The server options (its --file-prefix tag). */
  readonly opts: DpdkRunOptions;
  /** The last 20,000 characters of its output. */
  log: string;
}

/**
 * Start the server of a pair: `role` "front-end" (the compared side is the
 * front-end): DPDK's flowgen back-end; "back-end" (the net-vhost section):
 * `kind`'s forwarding back-end. Resolves once it listens; rejects with the
 * tail of its output when it does not within 10 s.
 */
export async function startPairServer(o: DpdkRunOptions, kind: FrontEndKind, role: PairRole): Promise<PairServer> {
  sweepStale();
  const sock = benchSock();
  rmSync(sock, { force: true });
  // Removed by this process's watchdog (@tpdk/testing/owned) if left when the bench dies (a SIGKILL runs no finally).
  ownedPath(sock);
  ownedPath(runtimeDir(prefixOf(o, "vhost")));
  const cmd = role === "front-end" ? backEndCommand(o, sock) : forwarderBackEndCommand(kind, o, sock);
  // Owned (@tpdk/testing/owned): stopped by PID in stopPairServer as before, and SIGKILLed by this
  // process's watchdog if the bench dies first (a SIGKILL, an outer timeout) with the server running.
  const proc = ownedChild(spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] }));
  const s: PairServer = { role, sock, proc, exit: exited(proc), sampler: new RxSampler(), opts: o, log: "" };
  const out = o.serverOutput;
  const keep = (d: string): void => {
    s.log = (s.log + d).slice(-20_000);
    if (role === "front-end") s.sampler.push(d, performance.now());
    if (out) out(d);
  };
  proc.stdout!.setEncoding("utf8").on("data", keep);
  proc.stderr!.setEncoding("utf8").on("data", keep);
  try {
    await waitFor(() => existsSync(sock), 10_000, s.exit, () => `the back-end did not create ${sock}:\n${tailOf(s.log)}`);
  } catch (e) {
    await stopPairServer(s);
    throw e;
  }
  return s;
}

/**
 * What a dead bench left (stale.ts: its socket and its testpmds' runtime folders, removed in a finally it
 * never reached), removed once per process before its first server starts; a live bench's are never touched.
 */
let swept = false;
function sweepStale(): void {
  if (swept) return;
  swept = true;
  const removed = sweepDeadBenches();
  if (removed.length > 0) console.error(`bench: removed what ${removed.length === 1 ? "a dead bench" : "dead benches"} left: ${removed.join(" ")}`);
}

/** Stop the server, remove its socket and runtime directory. */
export async function stopPairServer(s: PairServer): Promise<void> {
  await stop(s.proc);
  rmSync(s.sock, { force: true });
  rmSync(runtimeDir(prefixOf(s.opts, "vhost")), { recursive: true, force: true });
}

/**
 * One client run against a started server: start `kind`'s client (role
 * "front-end": `kind`'s front-end; "back-end": DPDK's generating
 * front-end), wait for frames to come back, warm up, measure, stop the
 * client. `o` is the run's options (its burst; its tag names the client's
 * --file-prefix). Rejects with the tail of both sides' output when the
 * client fails to start, no traffic comes back or no statistics come.
 */
export async function runPairClient(s: PairServer, o: DpdkRunOptions, kind: FrontEndKind): Promise<DpdkRun> {
  let cmd = s.role === "front-end" ? frontEndCommand(kind, o, s.sock) : generatorCommand(o, s.sock);
  // Only a node l2fwd can take the probe (the vhost-user section's tpdk front-end).
  const gcTrace = o.gcTrace === true && kind === "tpdk" && s.role === "front-end" && isNodeProgram(cmd[0]!);
  if (gcTrace) cmd = withGcProbe(cmd, o.nodeFlags);
  // V8's --trace-gc lines (stdout) and the probe's marks (stderr) of the whole run, kept apart from the tails.
  let gcText = "";
  // Kept whole (up to 64 MB) when the caller keeps the trace: V8's --trace-deopt and the like are long.
  const gcTextMax = o.keepTrace ? 64 << 20 : GC_TEXT_MAX;
  // The delivered rate: the generator's RX, the server's (role front-end, shared by its clients) or this client's.
  const sampler = s.role === "front-end" ? s.sampler : new RxSampler();
  const from0 = sampler.samples.length;
  const compared = `${kind} ${s.role}`;
  let log = "";
  const keep = (d: string): void => {
    log = (log + d).slice(-20_000);
    if (gcTrace && gcText.length < gcTextMax) gcText += d;
    if (s.role === "back-end") sampler.push(d, performance.now());
  };
  const tails = (): string => `client:\n${tailOf(log)}\nserver (back-end):\n${tailOf(s.log)}`;
  const env = gcTrace ? { ...process.env, TPDK_BENCH_GC_PROBE: "1", TPDK_BENCH_GC_MARK_STDERR: "1" } : process.env;
  ownedPath(runtimeDir(prefixOf(o, "virtio")));
  const client = ownedChild(spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], env })); // owned as the server
  try {
    // Its output is all read once both pipes closed ('exit' may come before the last data).
    const clientClosed = new Promise<void>((r) => client.once("close", () => r()));
    client.stdout!.setEncoding("utf8").on("data", keep);
    client.stderr!.setEncoding("utf8").on("data", keep);
    const anyExit = Promise.race([s.exit, exited(client)]);
    // Wait for traffic, then warm up, then measure.
    await waitFor(() => sampler.flowingSince(from0), 20_000, anyExit, () => `no traffic through the ${compared}:\n${tails()}`);
    await sleepOrExit(o.warmupS * 1000, anyExit, tails);
    const from = sampler.samples.length - 1;
    const cpu0 = cpuTicks(s.proc.pid) + cpuTicks(client.pid);
    const c0 = performance.now();
    await sleepOrExit(o.durationS * 1000 + 1100, anyExit, tails);
    const cpu1 = cpuTicks(s.proc.pid) + cpuTicks(client.pid);
    const c1 = performance.now();
    const w = windowRate(sampler.samples, from);
    if (!w) throw new Error(`testpmd printed too few statistics (${sampler.samples.length})`);
    const cpuShare = (((cpu1 - cpu0) / CLK_TCK) * 1000) / (2 * (c1 - c0));
    const run: DpdkRun = { burst: o.burst, pps: w.pps, windowS: w.windowS, cpuShare, samples: w.perSecond, windowEpochMs: [performance.timeOrigin + c0, performance.timeOrigin + c1] };
    if (gcTrace) {
      // V8 writes --trace-gc through libc's buffered stdout: the lines come when l2fwd exits.
      await stop(client);
      await Promise.race([clientClosed, new Promise((r) => setTimeout(r, 2000))]);
      const t0 = performance.timeOrigin;
      run.gc = attributeGcs(parseTraceGc(gcText), parseGcMarks(gcText), t0 + c0, t0 + c1);
      o.keepTrace?.(`tpdk-vu-window-epoch-ms ${t0 + c0} ${t0 + c1}\n${gcText}`);
    }
    return run;
  } finally {
    await stop(client);
    rmSync(runtimeDir(prefixOf(o, "virtio")), { recursive: true, force: true });
  }
}

/**
 * Run a vhost-user pair for warm-up + duration and measure: a server
 * (startPairServer) with one client run. `role` says which side is
 * compared: "front-end" (the DPDK pair; vu-ab.js): DPDK's flowgen back-end
 * listens and `kind`'s front-end connects; "back-end" (the net-vhost
 * section): `kind`'s back-end listens and DPDK's flowgen front-end
 * connects. Either way the generator's RX is the delivered rate.
 */
export async function runVhostPair(o: DpdkRunOptions, kind: FrontEndKind, role: PairRole = "front-end"): Promise<DpdkRun> {
  const s = await startPairServer(o, kind, role);
  try {
    const run = await runPairClient(s, o, kind);
    run.serverPid = s.proc.pid;
    return run;
  } finally {
    await stopPairServer(s);
  }
}

/** Most of a traced l2fwd's output kept for its GC lines (a GC line is ~150 B). */
const GC_TEXT_MAX = 4 << 20;

/** Linux clock ticks per second (USER_HZ), which /proc/<pid>/stat times are in. */
const CLK_TCK = 100;

/** utime + stime of a process (every thread), in clock ticks; NaN when unreadable. */
function cpuTicks(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

function exited(p: ChildProcess): Promise<number> {
  return new Promise((r) => p.once("exit", (code, sig) => r(code ?? (sig ? 128 : 1))));
}

async function waitFor(cond: () => boolean, ms: number, exit: Promise<number>, msg: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  let dead = false;
  void exit.then(() => {
    dead = true;
  });
  while (!cond()) {
    if (dead) throw new Error(`a side exited early. ${msg()}`);
    if (performance.now() > deadline) throw new Error(msg());
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sleepOrExit(ms: number, exit: Promise<number>, tails: () => string): Promise<void> {
  const r = await Promise.race([new Promise<"slept">((res) => setTimeout(() => res("slept"), ms)), exit]);
  if (r !== "slept") throw new Error(`a side exited during the run (code ${r}):\n${tails()}`);
}

/** SIGINT (testpmd stops forwarding and closes ports; l2fwd stops too), SIGKILL after 5 s. */
export async function stop(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = exited(p);
  p.kill("SIGINT");
  const t = setTimeout(() => p.kill("SIGKILL"), 5000);
  await done;
  clearTimeout(t);
}

function tailOf(s: string, n = 12): string {
  return s
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.includes("\x1b["))
    .slice(-n)
    .join("\n");
}

// What a test process starts outside itself is owned: peer processes (testpmd, QEMU, l2fwd, any
// child a test spawns), temporary folders (sockets and captures live inside them), DPDK runtime
// folders (testpmd's --file-prefix) and network namespaces. Each is told to this process's
// watchdog when it is made, and the watchdog removes whatever is left when this process ends,
// however it ends: vitest SIGTERMs a fork after each file (after a test timed out too), Ctrl-C
// SIGINTs the whole process group, an outer `timeout` SIGTERMs it, SIGKILL. Normal teardown
// (PeerSession.close, afterEach) still stops and removes each as before; the watchdog is for
// what teardown never reached.
//
// Why a watchdog process: Linux's PR_SET_PDEATHSIG is not reachable from JS, and no handler runs
// on SIGKILL. A pipe is: the watchdog reads this process's end of one, and the kernel closes it
// when this process dies, so end-of-file on the watchdog's stdin is its owner's death. It runs in
// a session of its own (Ctrl-C and `timeout` signal the test's process group, not it), kills by
// PID only a process whose start time is still the one registered (never a reused PID), and
// exits once done.
//
// Names carry the owner's PID (`tpdk-<pid>-<tag>...`): sweepDeadOwners (vitest's globalSetup)
// removes those of dead owners that a watchdog never got to (a watchdog killed too), and never
// anything of a live process.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * spawnSync/execFileSync options for a quick probe or command (`ip`, `sh -c command -v`, `tshark -v`,
 * `testpmd --version`): they end in milliseconds; one that hangs (a namespace busy in the kernel, a
 * tool waiting on something) is SIGKILLed after 10 s rather than holding the test process, which a
 * synchronous spawn blocks (no timer of the test can fire meanwhile). Spread it: `{ ...PROBE_BOUND, encoding }`.
 */
export const PROBE_BOUND = { timeout: 10_000, killSignal: "SIGKILL" } as const;

/** The compiled watchdog (the same path from src/e2e and dist/e2e). */
export const WATCHDOG = fileURLToPath(new URL("../../dist/e2e/watchdog.js", import.meta.url));

/** The start of every owned name: `tpdk-<owner pid>-`. */
const ownedName = (tag: string): string => `tpdk-${process.pid}-${tag}`;
const OWNED = /^tpdk-(\d+)-/;

let watchdog: ChildProcess | null = null;

/** This process's watchdog, started on first use; its PID (tests of the watchdog kill it). */
export function watchdogPid(): number {
  return startWatchdog().pid ?? -1;
}

function startWatchdog(): ChildProcess {
  if (watchdog !== null) return watchdog;
  const w = spawn(process.execPath, [WATCHDOG, String(process.pid)], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  // Neither the watchdog nor its pipe keeps this process alive; a watchdog that died makes writes fail
  // with EPIPE, which must not fail the test (the globalSetup sweep still removes folders).
  w.unref();
  const stdin = w.stdin as Socket; // a pipe: a net.Socket
  stdin.unref();
  stdin.on("error", () => undefined);
  // A vitest fork whose vitest died (SIGKILL, or a SIGTERM to its PID alone) is left running its
  // file with nobody to report to: its IPC channel closes, and it exits so the watchdog cleans up.
  if (process.send !== undefined) process.once("disconnect", () => process.exit(1));
  watchdog = w;
  return w;
}

function tell(line: string): void {
  // One write per line, far under PIPE_BUF: atomic, and libuv writes it at once while the pipe is empty.
  startWatchdog().stdin!.write(`${line}\n`);
}

/** /proc/<pid>/stat's state (field 3) and start time (field 22, clock ticks since boot), or null when `pid` is gone. */
export function procStat(pid: number): { state: string; start: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name (which may hold spaces and parentheses) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields.length > 19 ? { state: fields[0]!, start: fields[19]! } : null;
  } catch {
    return null;
  }
}

/** Register a spawned peer: SIGKILLed by PID if still running when this process ends. Returns `child`. */
export function ownedChild<C extends ChildProcess>(child: C): C {
  const pid = child.pid;
  const stat = pid === undefined ? null : procStat(pid);
  if (stat !== null) tell(`pid ${pid} ${stat.start}`);
  return child;
}

/** What `runOwned` returns: the child's exit (status, or the signal that ended it), its output, and whether its time ran out. */
export interface OwnedRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The child was SIGKILLed by PID after `timeoutMs` (status null, signal SIGKILL). */
  timedOut: boolean;
}

export interface OwnedRunOptions {
  /** The bound on the child's run: it is SIGKILLed by PID after this long (no default: each caller sizes its own). */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** File descriptors of this process handed to the child as its fds 3, 4, ... */
  fds?: readonly number[];
  /** Called with the child's PID once it is started (and owned). */
  onStart?: (pid: number) => void;
}

/**
 * Run `cmd args` to its end, as spawnSync would, without its two gaps: spawnSync gives no PID until
 * the child has ended, so nothing can own the child (a test process killed meanwhile leaves it to
 * run on), and its timeout sends SIGTERM, which a hung child may never act on. Here the child is
 * owned from its start (SIGKILLed by PID if this process dies first), SIGKILLed by PID when
 * `timeoutMs` runs out (`timedOut`), and its stdout and stderr are read whole (no maxBuffer).
 * Rejects only when the child cannot be started (ENOENT...).
 */
export function runOwned(cmd: string, args: readonly string[], o: OwnedRunOptions): Promise<OwnedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd, env: o.env ?? process.env, stdio: ["ignore", "pipe", "pipe", ...(o.fds ?? [])],
    });
    if (child.pid === undefined) {
      child.once("error", reject);
      return;
    }
    ownedChild(child);
    o.onStart?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL"); // by its PID
    }, o.timeoutMs);
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), timedOut });
    });
  });
}

/** A new folder `<tmpdir>/tpdk-<pid>-<tag>-XXXXXX`, removed (with what is in it) if left when this process ends. */
export function ownedTempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${ownedName(tag)}-`));
  tell(`path ${dir}`);
  return dir;
}

/** Where DPDK keeps the runtime files of a --file-prefix (eal_create_runtime_dir: /var/run as root, else XDG_RUNTIME_DIR or /tmp). */
export function dpdkRuntimeRoot(): string {
  const base = process.getuid?.() === 0 ? "/var/run" : (process.env.XDG_RUNTIME_DIR ?? "/tmp");
  return join(base, "dpdk");
}

let prefixes = 0;

/** A DPDK --file-prefix unique on the machine, `tpdk-<pid>-<tag>-<n>`; its runtime folder is removed if left when this process ends. */
export function ownedDpdkPrefix(tag: string): string {
  const prefix = `${ownedName(tag)}-${prefixes++}`;
  tell(`path ${join(dpdkRuntimeRoot(), prefix)}`);
  return prefix;
}

/**
 * Register a file or folder made under a name of its own elsewhere (the bench's vhost-user socket and its
 * testpmds' --file-prefix folders, whose names carry the bench's PID and sweep of their own): removed if
 * left when this process ends. Prefer ownedTempDir / ownedDpdkPrefix for new names. Registering a path again
 * does nothing (a bench registers the same names for every pair it starts).
 */
const ownedPaths = new Set<string>();
export function ownedPath(path: string): void {
  if (ownedPaths.has(path)) return;
  ownedPaths.add(path);
  tell(`path ${path}`);
}

/** Register network namespace `name` (its veth pairs go with it): deleted (`ip netns del`) if left when this process ends. */
export function ownNetns(name: string): void {
  tell(`netns ${name}`);
}

/** Whether `pid` is a live process: it exists (EPERM: someone else's) and is not a zombie (dead, not yet reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return procStat(pid)?.state !== "Z";
}

/**
 * Remove the owned folders (`tpdk-<pid>-...`) under `roots` whose owner is dead: what a killed
 * test process's watchdog never removed. Anything of a live owner stays. Returns what it removed.
 */
export function sweepDeadOwners(roots: readonly string[] = [tmpdir(), dpdkRuntimeRoot()]): string[] {
  return sweepDead(roots, OWNED);
}

/**
 * Remove the entries under `roots` whose name `pattern` matches with a PID as its first group that is
 * no live process, unless `keep(name)` holds on to it (e.g. a live process's command line names it):
 * what a killed process left under a name of its own. Returns what it removed.
 */
export function sweepDead(roots: readonly string[], pattern: RegExp, keep: (name: string) => boolean = () => false): string[] {
  const removed: string[] = [];
  for (const root of roots) {
    let names: string[];
    try {
      names = readdirSync(root);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = pattern.exec(name);
      if (m === null || alive(Number(m[1])) || keep(name)) continue;
      rmSync(join(root, name), { recursive: true, force: true });
      removed.push(join(root, name));
    }
  }
  return removed;
}

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { native } from "@tpdk/native";
import { CTRL_PIN_WARNED } from "./control.js";
import type { Memory } from "./memory.js";

/**
 * Thread pinning (rte_thread_set_affinity). Node has no affinity API: a thread
 * pins itself with @tpdk/native's setThreadAffinity (sched_setaffinity), or,
 * without the addon, with `taskset -pc CPU TID` on its own kernel thread id
 * (read from /proc/thread-self). The fallback forks the process, and a fork
 * leaves every private page of EAL memory copy-on-write: the next write to
 * each takes a page fault (apps/l2fwd README, "Start"). Cold path: once per
 * thread start.
 */
export interface PinResult {
  /** True when the thread's affinity is now exactly `cpu`. */
  readonly pinned: boolean;
  /** Kernel thread id, -1 if unknown. */
  readonly tid: number;
  /** The thread's CPU affinity list after the attempt ("1", "0-1"), "" if unknown. */
  readonly affinity: string;
  /** Why the thread is not pinned (absent when pinned). */
  readonly reason?: string;
}

/** Kernel thread id of the calling thread (-1 without /proc). */
export function currentTid(): number {
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>"
    const m = /task\/(\d+)$/.exec(fs.readlinkSync("/proc/thread-self"));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** The calling thread's affinity list from /proc ("" if unknown). */
export function currentAffinity(): string {
  return readCpusAllowed("/proc/thread-self/status");
}

function readCpusAllowed(statusPath: string): string {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync(statusPath, "utf8"));
    return m ? m[1]! : "";
  } catch {
    return "";
  }
}

/** Expand a kernel CPU list ("0-3,8") into ids. */
export function expandCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

/**
 * CPUs this process may run on: the main thread's affinity from /proc, else
 * 0 .. os.availableParallelism()-1.
 */
export function allowedCpus(): number[] {
  const list = readCpusAllowed("/proc/self/status");
  const cpus = list ? expandCpuList(list) : [];
  if (cpus.length > 0) return cpus;
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

/**
 * Pin the calling thread to `cpu`. Never throws: when pinning is impossible
 * (no taskset, CPU not available to this process, EPERM, no /proc) the thread
 * keeps running unpinned and `reason` says why. Does not print; see
 * warnUnpinnedOnce.
 */
export function pinCurrentThread(cpu: number): PinResult {
  const tid = currentTid();
  const unpinned = (reason: string): PinResult => ({ pinned: false, tid, affinity: currentAffinity(), reason });
  if (!Number.isInteger(cpu) || cpu < 0) return unpinned(`cpu ${cpu} is not a CPU number`);
  if (tid < 0) return unpinned("no /proc/thread-self to find the thread id");
  const allowed = allowedCpus();
  if (!allowed.includes(cpu)) {
    return unpinned(`cpu ${cpu} is not available to this process (it may use ${allowed.join(",")})`);
  }
  try {
    if (native !== null) native.setThreadAffinity(cpu);
    else execFileSync("taskset", ["-pc", String(cpu), String(tid)], { stdio: ["ignore", "ignore", "pipe"], timeout: 5000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (native !== null) return unpinned(`sched_setaffinity failed: ${err.message}`);
    if (err.code === "ENOENT") return unpinned("taskset not found (install util-linux)");
    const detail = err.stderr?.toString().trim().split("\n").pop() || err.message;
    return unpinned(`taskset failed: ${detail}`);
  }
  const affinity = currentAffinity();
  if (affinity !== String(cpu)) {
    return { pinned: false, tid, affinity, reason: `affinity reads back as ${affinity || "unknown"}, not ${cpu}` };
  }
  return { pinned: true, tid, affinity };
}

let warnedHere = false;

/**
 * Print `tpdk: warning: <text>` on stderr once per process: the flag is a
 * control word in EAL memory shared by all threads (without `mem`, once per
 * thread). Returns true if this call printed.
 */
export function warnUnpinnedOnce(text: string, mem?: Memory): boolean {
  if (warnedHere) return false;
  warnedHere = true;
  // Pairs with the same exchange on other threads: the first one to flip 0->1 prints.
  if (mem && Atomics.compareExchange(mem.i32, CTRL_PIN_WARNED, 0, 1) !== 0) return false;
  process.stderr.write(`tpdk: warning: ${text}\n`);
  return true;
}

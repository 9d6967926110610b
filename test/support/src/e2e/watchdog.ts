// The watchdog of one test process (owned.ts starts it; argv[2] is the owner's PID). Reads lines on
// stdin, its owner's end of a pipe:
//   pid <pid> <start time>   a peer process
//   path <folder>            a temporary or DPDK runtime folder
//   netns <name>             a network namespace
// End of file is the owner's death (the kernel closes a dead process's pipes): then each peer still
// running is SIGKILLed (only while /proc says it is the process registered, never a reused PID),
// awaited, and the folders and namespaces removed. Exits then.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { PROBE_BOUND, procStat } from "./owned.js";

const pids: { pid: number; start: string }[] = [];
const paths: string[] = [];
const namespaces: string[] = [];
let pending = "";

function take(line: string): void {
  const [kind, a, b] = line.split(" ");
  if (kind === "pid" && a !== undefined && b !== undefined) pids.push({ pid: Number(a), start: b });
  else if (kind === "path" && a !== undefined) paths.push(line.slice("path ".length));
  else if (kind === "netns" && a !== undefined) namespaces.push(a);
}

/** The same process, not yet exited (a zombie has: its new parent reaps it). */
function running(p: { pid: number; start: string }): boolean {
  const stat = procStat(p.pid);
  return stat !== null && stat.start === p.start && stat.state !== "Z";
}

const nap = new Int32Array(new SharedArrayBuffer(4));

function cleanUp(): void {
  const left = pids.filter(running);
  for (const p of left) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  // Bounded: a killed process ends at once unless it is in uninterruptible sleep.
  for (let i = 0; i < 500 && left.some(running); i++) Atomics.wait(nap, 0, 0, 10);
  for (const path of paths) rmSync(path, { recursive: true, force: true });
  for (const ns of namespaces) spawnSync("ip", ["netns", "del", ns], { ...PROBE_BOUND, stdio: "ignore" });
}

process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop()!;
  for (const l of lines) take(l);
});
process.stdin.on("end", () => {
  if (pending !== "") take(pending);
  cleanUp();
  process.exit(0);
});

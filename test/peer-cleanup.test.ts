// Tests that start peers leave nothing behind, however their process ends (test/support/README.md
// "Cleanup: what a test starts outside its process"). An owner process, as a vitest fork is, starts two peers through ownedChild (`sleep`,
// and a node that ignores SIGINT, SIGTERM and SIGHUP, as a peer busy in its loop may), a third such
// node through runOwned (a script run to its end, as the tests' child scripts are), an owned
// temporary folder holding a listening Unix socket, and an owned DPDK runtime folder (what
// testpmd's --file-prefix leaves). The owner is then ended the ways a test run ends: SIGTERM (vitest
// stopping a fork after its file, after a test timed out too; an outer `timeout`), SIGINT to its
// process group (Ctrl-C), SIGKILL, and the death of its own parent (vitest killed: the fork's IPC
// channel closes). Nothing of it may remain: no peer, no folder. Without the watchdog every one of
// these left both peers running and both folders. Last, the globalSetup sweep: with the watchdog
// killed too, the folders of the dead owner go, and those of a live process stay.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { alive, ownedTempDir, procStat, runOwned, sweepDeadOwners } from "@tpdk/testing/e2e";

const OWNED_URL = new URL("./support/dist/e2e/owned.js", import.meta.url).href;

/** The owner: prints what it owns as one JSON line, then waits to be ended. */
const OWNER = `
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
const { dpdkRuntimeRoot, ownedChild, ownedDpdkPrefix, ownedTempDir, runOwned, watchdogPid } = await import(${JSON.stringify(OWNED_URL)});
const dir = ownedTempDir("cleanup-test");
await new Promise((r) => createServer().listen(join(dir, "peer.sock"), r));
const runtime = join(dpdkRuntimeRoot(), ownedDpdkPrefix("cleanup-test"));
mkdirSync(runtime, { recursive: true });
writeFileSync(join(runtime, "config"), "");
const stubborn = "for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {}); setInterval(() => {}, 1000);";
const peers = [
  ownedChild(spawn("sleep", ["600"], { stdio: "ignore" })).pid,
  ownedChild(spawn(process.execPath, ["-e", stubborn], { stdio: "ignore" })).pid,
];
// A child run to its end (runOwned, what runChild and the tests' script runs use instead of spawnSync), still running.
await new Promise((r) => void runOwned(process.execPath, ["-e", stubborn], { timeoutMs: 600_000, onStart: (pid) => r(peers.push(pid)) }));
console.log(JSON.stringify({ owner: process.pid, dir, runtime, peers, watchdog: watchdogPid() }));
setInterval(() => {}, 1000);
`;

/** A parent of the owner (the script at `ownerPath`) joined to it by an IPC channel, as vitest is to its forks. */
const parentOf = (ownerPath: string): string => `
import { fork } from "node:child_process";
fork(${JSON.stringify(ownerPath)}, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
setInterval(() => {}, 1000);
`;

interface Owned {
  owner: number;
  dir: string;
  runtime: string;
  peers: number[];
  watchdog: number;
}

/** Every process a test started (the owner, its peers, a parent), SIGKILLed by PID after it whatever happened. */
const started: { pid: number; start: string }[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (procStat(p.pid)?.start === p.start) process.kill(p.pid, "SIGKILL");
});

function remember(pid: number): void {
  const s = procStat(pid);
  if (s !== null) started.push({ pid, start: s.start });
}

/** The same process still running (not gone, not a zombie, not its PID reused). */
function running(pid: number, start: string): boolean {
  const s = procStat(pid);
  return s !== null && s.start === start && s.state !== "Z";
}

/** Start the owner (`node <script>`, its own process group) and read what it owns. */
async function startOwner(args: readonly string[]): Promise<{ child: ChildProcess; owned: Owned }> {
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "inherit"] });
  remember(child.pid!);
  const owned = await new Promise<Owned>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the owner printed nothing in 20 s: ${out}`)), 20_000);
    child.stdout!.on("data", (d) => {
      out += d;
      if (!out.includes("\n")) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.split("\n")[0]!) as Owned);
    });
  });
  for (const pid of [owned.owner, ...owned.peers, owned.watchdog]) remember(pid);
  expect(existsSync(join(owned.dir, "peer.sock")) && existsSync(join(owned.runtime, "config"))).toBe(true);
  return { child, owned };
}

/** Poll (bounded) until nothing of `o` remains; what remains then. */
async function leftAfter(o: Owned, ms = 30_000): Promise<string[]> {
  const starts = new Map([...o.peers, o.owner].map((pid) => [pid, procStat(pid)?.start ?? ""]));
  const left = (): string[] => [
    ...[...starts].filter(([pid, start]) => running(pid, start)).map(([pid]) => (pid === o.owner ? `owner ${pid}` : `peer ${pid}`)),
    ...[o.dir, o.runtime].filter((p) => existsSync(p)),
  ];
  const deadline = Date.now() + ms;
  while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return left();
}

describe("owned peers and folders: nothing remains when the test process ends", () => {
  it.each([
    ["SIGTERM to the owner (vitest ending a fork; an outer timeout)", "SIGTERM", false],
    ["SIGINT to its process group (Ctrl-C)", "SIGINT", true],
    ["SIGKILL to the owner", "SIGKILL", false],
  ] as const)("%s", async (_what, signal, group) => {
    const { owned } = await startOwner(["--input-type=module", "-e", OWNER]);
    process.kill(group ? -owned.owner : owned.owner, signal);
    expect(await leftAfter(owned)).toEqual([]);
  }, 60_000);

  it("its parent SIGKILLed (vitest killed): the owner exits on its IPC channel's close, and nothing remains", async () => {
    const dir = ownedTempDir("cleanup-test-parent");
    writeFileSync(join(dir, "owner.mjs"), OWNER);
    writeFileSync(join(dir, "parent.mjs"), parentOf(join(dir, "owner.mjs")));
    const { child: parent, owned } = await startOwner([join(dir, "parent.mjs")]);
    expect(procStat(owned.owner)).not.toBeNull();
    process.kill(parent.pid!, "SIGKILL");
    expect(await leftAfter(owned)).toEqual([]);
  }, 60_000);

  it("the watchdog killed too: the globalSetup sweep removes the dead owner's folders, never a live process's", async () => {
    const { child, owned } = await startOwner(["--input-type=module", "-e", OWNER]);
    process.kill(owned.watchdog, "SIGKILL");
    const reaped = new Promise((r) => child.once("exit", r));
    process.kill(owned.owner, "SIGKILL");
    await reaped;
    const live = ownedTempDir("cleanup-test-live"); // this process's: alive
    expect(existsSync(owned.dir) && existsSync(owned.runtime)).toBe(true);
    expect(alive(owned.owner)).toBe(false);
    const removed = sweepDeadOwners();
    expect(removed).toEqual(expect.arrayContaining([owned.dir, owned.runtime]));
    expect(existsSync(owned.dir) || existsSync(owned.runtime)).toBe(false);
    expect(existsSync(live)).toBe(true);
    // The peers had no watchdog: afterEach kills them by PID.
  }, 60_000);
});

describe("runOwned: a child script run to its end, bounded", () => {
  it("a child past its time is SIGKILLed by PID, also one that ignores SIGTERM; its output so far is kept", async () => {
    const stubborn = "for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {}); console.log('up'); setInterval(() => {}, 1000);";
    let pid = -1;
    const t0 = Date.now();
    const r = await runOwned(process.execPath, ["-e", stubborn], { timeoutMs: 1000, onStart: (p) => remember((pid = p)) });
    expect(r).toMatchObject({ status: null, signal: "SIGKILL", timedOut: true, stdout: "up\n" });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(alive(pid)).toBe(false);
  }, 30_000);

  it("a child that ends: its status and whole output (more than spawnSync's 1 MiB default maxBuffer), not timed out", async () => {
    const r = await runOwned(process.execPath, ["-e", "process.stdout.write('x'.repeat(3 << 20)); console.error('e'); process.exitCode = 3;"], { timeoutMs: 20_000 });
    expect({ status: r.status, signal: r.signal, timedOut: r.timedOut, out: r.stdout.length, err: r.stderr }).toEqual({ status: 3, signal: null, timedOut: false, out: 3 << 20, err: "e\n" });
  }, 30_000);
});

// Helpers for l2fwd's end-to-end tests: run the real binary, and read/write
// classic pcap files with a small implementation of our own, independent of
// the app's pcap wire, so expected outputs are computed without tpdk's code.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ownedChild, ownedTempDir } from "./owned.js";

export const L2FWD = fileURLToPath(new URL("../../../../apps/l2fwd/bin/tpdk-l2fwd.js", import.meta.url) /* same path from src/e2e and dist/e2e */);

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run l2fwd with `args` (and extra environment `env`); kill it (and fail) after `timeoutMs`.
 * `onSpawn` sees the child first (to watch its output or its threads while it runs).
 */
export function runL2fwd(
  args: readonly string[],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
  onSpawn?: (child: ChildProcess) => void,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = ownedChild(spawn(process.execPath, [L2FWD, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } }));
    onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`l2fwd ${args.join(" ")} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The last --json statistics line of a run. */
export function lastJson(stdout: string): { ports: Array<Record<string, number>>; total: Record<string, number> } {
  const lines = stdout.split("\n").filter((l) => l.startsWith("{"));
  if (lines.length === 0) throw new Error(`no JSON statistics in:\n${stdout}`);
  return JSON.parse(lines[lines.length - 1]!);
}

/** The MAC l2fwd printed for a port ("Port N, MAC address: ..."). */
export function portMac(stdout: string, port: number): number[] {
  const m = new RegExp(`Port ${port}, MAC address: ([0-9A-Fa-f:]{17})`).exec(stdout);
  if (!m) throw new Error(`no MAC printed for port ${port}:\n${stdout}`);
  return m[1]!.split(":").map((h) => parseInt(h, 16));
}

/** An owned temporary folder (ownedTempDir: removed even if the test process is killed); `cleanup` removes it now. */
export function tempDir(tag = "l2fwd"): { dir: string; cleanup: () => void } {
  const dir = ownedTempDir(tag);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write a classic little-endian microsecond pcap, LINKTYPE_ETHERNET. */
export function writePcap(path: string, frames: readonly Uint8Array[]): void {
  const size = 24 + frames.reduce((s, f) => s + 16 + f.length, 0);
  const b = Buffer.alloc(size);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(65535, 16);
  b.writeUInt32LE(1, 20);
  let o = 24;
  frames.forEach((f, i) => {
    b.writeUInt32LE(1_700_000_000 + i, o);
    b.writeUInt32LE(i % 1_000_000, o + 4);
    b.writeUInt32LE(f.length, o + 8);
    b.writeUInt32LE(f.length, o + 12);
    b.set(f, o + 16);
    o += 16 + f.length;
  });
  writeFileSync(path, b);
}

/** Frames of a classic pcap (either byte order, µs or ns). */
export function readPcap(path: string): Uint8Array[] {
  const b = readFileSync(path);
  const magicLE = b.readUInt32LE(0);
  const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${path}: not a pcap file`);
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${path}: link type ${u32(20)} is not Ethernet`);
  const out: Uint8Array[] = [];
  let o = 24;
  while (o < b.length) {
    if (o + 16 > b.length) throw new Error(`${path}: truncated record header at ${o}`);
    const incl = u32(o + 8);
    if (o + 16 + incl > b.length) throw new Error(`${path}: truncated record at ${o}`);
    out.push(new Uint8Array(b.subarray(o + 16, o + 16 + incl)));
    o += 16 + incl;
  }
  return out;
}

/**
 * Deterministic Ethernet frames (sizes 60..1514) whose bytes identify their
 * source port and index, so a misrouted or reordered frame cannot pass.
 */
export function makeFrames(srcPort: number, n: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = 60 + ((i * 97 + srcPort * 31) % 1455);
    const f = new Uint8Array(len);
    f.set([0x02, 0xaa, 0, 0, srcPort, 1], 0); // dst
    f.set([0x02, 0xbb, 0, 0, srcPort, 2], 6); // src
    f[12] = 0x08;
    f[13] = 0x00;
    for (let j = 14; j < len; j++) f[j] = (j * 7 + i * 13 + srcPort * 101) & 0xff;
    f[14] = srcPort;
    f[15] = i & 0xff;
    f[16] = (i >>> 8) & 0xff;
    frames.push(f);
  }
  return frames;
}

/** What l2fwd's MAC update makes of a frame sent out of `dstPort` with MAC `dstPortMac`. */
export function rewritten(frame: Uint8Array, dstPort: number, dstPortMac: readonly number[]): Uint8Array {
  const f = new Uint8Array(frame);
  f.set([0x02, 0, 0, 0, 0, dstPort], 0);
  f.set(dstPortMac, 6);
  return f;
}

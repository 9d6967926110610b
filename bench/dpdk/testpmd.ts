import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * The DPDK side of the comparison: the same shape as tpdk's pipeline, with
 * two dpdk-testpmd processes joined by vhost-user, one core each.
 *
 *   testpmd A (CPU 1)  net_vhost0, flowgen: generates 60-byte frames (64 B
 *                      on the wire) into the vhost port and counts and frees
 *                      what comes back                -- tpdk's device thread
 *                      with its gen and sink wires
 *   testpmd B (CPU 0)  net_virtio_user0 (split ring), mac forwarding, port
 *                      topology loop (RX -> TX of the same port) -- l2fwd
 *
 * Delivered rate = RX-packets of A's port (frames that made the round trip),
 * from the port statistics testpmd prints every second.
 */

export const TESTPMD = "dpdk-testpmd";

export interface DpdkEnv {
  /** Absolute path of dpdk-testpmd, or null. */
  testpmd: string | null;
  /** Free 2 MB hugepages and a hugetlbfs mount: use them; else --no-huge (much slower, noted). */
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
    : `no hugepages (${mounted ? `${haveMb} MB free, need ${needMb}` : "no hugetlbfs mount"}): DPDK runs with --no-huge, ` +
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

const MEM_MB = 128;

export interface DpdkRun {
  burst: number;
  /** Delivered frames per second over the window (A's RX). */
  pps: number;
  windowS: number;
  /**
   * CPU time both testpmds got in the window over 2 x window (each has one
   * busy forwarding core): about 1 when they had their CPUs to themselves.
   */
  cpuShare: number;
  /** Per-second samples of A's RX rate in the window (Mpps). */
  samples: number[];
}

export interface DpdkRunOptions {
  burst: number;
  warmupS: number;
  durationS: number;
  hugepages: boolean;
  testpmd: string;
}

/** EAL arguments shared by both sides. */
function ealArgs(o: DpdkRunOptions, mainLcore: number, prefix: string): string[] {
  const mem = o.hugepages ? ["-m", String(MEM_MB)] : ["--no-huge", "-m", String(2 * MEM_MB)];
  return ["-l", "0,1", "--main-lcore", String(mainLcore), ...mem, "--in-memory", "--single-file-segments", "--file-prefix", prefix, "--no-pci", "--log-level", "lib.eal:error"];
}

/** The exact command lines (for bench/README.md and the report). */
export function dpdkCommands(o: DpdkRunOptions, sock: string): { vhost: string[]; virtio: string[] } {
  const fwd = ["--auto-start", "--nb-cores=1", `--burst=${o.burst}`, "--stats-period=1", "--total-num-mbufs=8192"];
  return {
    vhost: [
      o.testpmd,
      ...ealArgs(o, 0, "tpdkbench-vhost"),
      "--vdev",
      `net_vhost0,iface=${sock},queues=1`,
      "--",
      "--forward-mode=flowgen",
      "--txpkts=60",
      ...fwd,
    ],
    virtio: [
      o.testpmd,
      ...ealArgs(o, 1, "tpdkbench-virtio"),
      "--vdev",
      `net_virtio_user0,path=${sock},queues=1,packed_vq=0,in_order=1,mrg_rxbuf=1`,
      "--",
      "--forward-mode=mac",
      "--port-topology=loop",
      ...fwd,
    ],
  };
}

interface Sample {
  t: number;
  rx: number;
}

/**
 * Run one DPDK pair for warm-up + duration and measure. Rejects with the
 * tail of testpmd's output when a side fails to start or no statistics come.
 */
export async function runDpdkPair(o: DpdkRunOptions): Promise<DpdkRun> {
  const sock = `/tmp/tpdk-bench-${process.pid}.sock`;
  rmSync(sock, { force: true });
  const cmd = dpdkCommands(o, sock);
  const samples: Sample[] = [];
  const logs = { vhost: "", virtio: "" };
  const vhost = spawn(cmd.vhost[0]!, cmd.vhost.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let virtio: ChildProcess | null = null;
  let buf = "";
  const keep = (k: "vhost" | "virtio", d: string): void => {
    logs[k] = (logs[k] + d).slice(-20_000);
  };
  vhost.stdout!.setEncoding("utf8").on("data", (d: string) => {
    keep("vhost", d);
    buf += d;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    // The periodic NIC statistics: "RX-packets: N   RX-missed: M   RX-bytes: B" (the final
    // forward statistics say RX-dropped instead, and are not samples).
    for (const l of lines) {
      const m = /RX-packets:\s+(\d+)\s+RX-missed:/.exec(l);
      if (m) samples.push({ t: performance.now(), rx: Number(m[1]) });
    }
  });
  vhost.stderr!.setEncoding("utf8").on("data", (d: string) => keep("vhost", d));
  const vhostExit = exited(vhost);
  try {
    await waitFor(() => existsSync(sock), 10_000, vhostExit, () => `vhost testpmd did not create ${sock}:\n${tailOf(logs.vhost)}`);
    virtio = spawn(cmd.virtio[0]!, cmd.virtio.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    virtio.stdout!.setEncoding("utf8").on("data", (d: string) => keep("virtio", d));
    virtio.stderr!.setEncoding("utf8").on("data", (d: string) => keep("virtio", d));
    const virtioExit = exited(virtio);
    const anyExit = Promise.race([vhostExit, virtioExit]);
    // Wait for traffic, then warm up, then measure.
    await waitFor(() => samples.length > 0 && samples[samples.length - 1]!.rx > 0, 15_000, anyExit, () => `no traffic between the testpmds:\n${tailOf(logs.virtio)}\n${tailOf(logs.vhost)}`);
    await sleepOrExit(o.warmupS * 1000, anyExit, logs);
    const from = samples.length - 1;
    const cpu0 = cpuTicks(vhost.pid) + cpuTicks(virtio.pid);
    const c0 = performance.now();
    await sleepOrExit(o.durationS * 1000 + 1100, anyExit, logs);
    const cpu1 = cpuTicks(vhost.pid) + cpuTicks(virtio.pid);
    const c1 = performance.now();
    const a = samples[from]!;
    const b = samples[samples.length - 1]!;
    const windowS = (b.t - a.t) / 1000;
    if (!(windowS > 0.5)) throw new Error(`testpmd printed too few statistics (${samples.length})`);
    const per: number[] = [];
    for (let i = from + 1; i < samples.length; i++) {
      const dt = (samples[i]!.t - samples[i - 1]!.t) / 1000;
      if (dt > 0) per.push((samples[i]!.rx - samples[i - 1]!.rx) / dt / 1e6);
    }
    const cpuShare = (((cpu1 - cpu0) / CLK_TCK) * 1000) / (2 * (c1 - c0));
    return { burst: o.burst, pps: (b.rx - a.rx) / windowS, windowS, cpuShare, samples: per };
  } finally {
    await stop(virtio);
    await stop(vhost);
    rmSync(sock, { force: true });
  }
}

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
    if (dead) throw new Error(`testpmd exited early. ${msg()}`);
    if (performance.now() > deadline) throw new Error(msg());
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sleepOrExit(ms: number, exit: Promise<number>, logs: { vhost: string; virtio: string }): Promise<void> {
  const r = await Promise.race([new Promise<"slept">((res) => setTimeout(() => res("slept"), ms)), exit]);
  if (r !== "slept") throw new Error(`testpmd exited during the run (code ${r}):\n${tailOf(logs.virtio)}\n${tailOf(logs.vhost)}`);
}

/** SIGINT (testpmd stops forwarding and closes ports), SIGKILL after 5 s. */
async function stop(p: ChildProcess | null): Promise<void> {
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

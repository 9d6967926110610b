// Helpers for tests with real peers: a long-running l2fwd child whose --json
// statistics can be watched, and Linux network namespaces joined to the root
// namespace by veth pairs (our own test hosts inside the sandbox), created
// with unique names and always removed.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as net from "node:net";
import { L2FWD } from "./l2fwd.js";
import { until } from "../until.js";
import { PROBE_BOUND, ownNetns, ownedChild } from "./owned.js";

export interface PortJson {
  port: number;
  rx: number;
  tx: number;
  dropped: number;
  missed?: number;
  wire_delivered?: number;
  [k: string]: number | undefined;
}

/** l2fwd running in the background with `-T 1 --json`; stop() sends SIGINT and waits for the exit. */
export class L2fwdChild {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: readonly string[]) {
    this.child = ownedChild(spawn(process.execPath, [L2FWD, ...args], { stdio: ["ignore", "pipe", "pipe"] }));
    this.child.stdout!.on("data", (d) => (this.stdout += d));
    this.child.stderr!.on("data", (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on("close", (code, signal) => resolve({ code, signal })));
  }

  /** The ports of the last --json line, or null before the first one. */
  lastPorts(): PortJson[] | null {
    const lines = this.stdout.split("\n").filter((l) => l.startsWith("{"));
    if (lines.length === 0) return null;
    return (JSON.parse(lines[lines.length - 1]!) as { ports: PortJson[] }).ports;
  }

  /** Wait until `cond` holds for the latest statistics (or the output), failing after `ms` or if l2fwd exits. */
  async waitFor(what: string, cond: (ports: PortJson[] | null, stdout: string) => boolean, ms = 30_000): Promise<void> {
    await until(() => cond(this.lastPorts(), this.stdout), ms, what, {
      every: 50,
      stop: () => (this.child.exitCode !== null || this.child.signalCode !== null ? `l2fwd exited (${this.child.exitCode ?? this.child.signalCode})` : null),
      log: () => `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
      logLines: Infinity,
    });
  }

  /** SIGINT, then the exit status (SIGKILL after `ms`). */
  async stop(ms = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGINT");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), ms);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  /** Wait for l2fwd to exit by itself (SIGKILL and fail after `ms`). */
  async exit(ms = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), ms);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  /** Kill without waiting (cleanup after a failure). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root (ip netns needs CAP_SYS_ADMIN)";
  for (const tool of ["ip", "ping"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`], PROBE_BOUND).status !== 0) return `no \`${tool}\` (install iproute2 and iputils-ping)`;
  }
  // Try for real: containers may forbid namespaces or veth even to root.
  const probe = `tpdkprobe${process.pid}`;
  const r = spawnSync("ip", ["netns", "add", probe], { ...PROBE_BOUND, encoding: "utf8" });
  if (r.status !== 0) return `ip netns add failed: ${(r.stderr || r.error?.message || "").trim()}`;
  const v = spawnSync("ip", ["link", "add", `tpv${process.pid % 100000}`, "type", "veth", "peer", "name", `tpw${process.pid % 100000}`], { ...PROBE_BOUND, encoding: "utf8" });
  spawnSync("ip", ["link", "del", `tpv${process.pid % 100000}`], PROBE_BOUND);
  spawnSync("ip", ["netns", "del", probe], PROBE_BOUND);
  if (v.status !== 0) return `veth pairs cannot be created: ${(v.stderr || "").trim()}`;
  const x = spawnSync("ip", ["link", "add", `tpx${process.pid % 100000}`, "type", "vxlan", "id", "1", "dstport", "4789", "local", "127.0.0.1"], { ...PROBE_BOUND, encoding: "utf8" });
  spawnSync("ip", ["link", "del", `tpx${process.pid % 100000}`], PROBE_BOUND);
  if (x.status !== 0) return `vxlan interfaces cannot be created: ${(x.stderr || "").trim()}`;
  return null;
}

/** Run `ip ...` (throws with its stderr). */
export function ip(...args: string[]): string {
  return execFileSync("ip", args, { ...PROBE_BOUND, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export interface Host {
  /** Namespace name. */
  ns: string;
  /** veth end in the root namespace, and its address (tpdk binds here). */
  rootIf: string;
  rootAddr: string;
  /** veth end in the namespace, and its address (the vxlan's underlay). */
  nsIf: string;
  nsAddr: string;
  /** The /24 under 10.99.0.0/16 (reserved by freeSubnets; removeHost releases it). */
  subnet: number;
}

/**
 * A namespace joined to the root namespace by a veth pair on 10.99.<subnet>.0/24
 * (.1 in the root namespace, .2 in the namespace). Names carry `tag` (unique per
 * test run) so parallel runs and leftovers of a killed run never collide.
 */
export function addHost(tag: string, index: number, subnet: number): Host {
  const h: Host = {
    ns: `tpdk-${tag}-${index}`,
    rootIf: `tpr${tag}${index}`.slice(0, 15),
    rootAddr: `10.99.${subnet}.1`,
    nsIf: `tpn${tag}${index}`.slice(0, 15),
    nsAddr: `10.99.${subnet}.2`,
    subnet,
  };
  ip("netns", "add", h.ns);
  ownNetns(h.ns);
  ip("link", "add", h.rootIf, "type", "veth", "peer", "name", h.nsIf);
  ip("link", "set", h.nsIf, "netns", h.ns);
  ip("addr", "add", `${h.rootAddr}/24`, "dev", h.rootIf);
  ip("link", "set", h.rootIf, "up");
  ip("-n", h.ns, "addr", "add", `${h.nsAddr}/24`, "dev", h.nsIf);
  ip("-n", h.ns, "link", "set", h.nsIf, "up");
  ip("-n", h.ns, "link", "set", "lo", "up");
  return h;
}

/**
 * A vxlan interface in the host's namespace whose remote is tpdk's udp wire
 * at rootAddr:4789, with `inner` (e.g. 10.200.0.1/24) on it.
 */
export function addVxlan(h: Host, vni: number, inner: string, mac: string): void {
  ip("-n", h.ns, "link", "add", "vx0", "type", "vxlan", "id", String(vni), "remote", h.rootAddr, "local", h.nsAddr, "dstport", "4789", "dev", h.nsIf);
  ip("-n", h.ns, "link", "set", "vx0", "address", mac);
  ip("-n", h.ns, "addr", "add", inner, "dev", "vx0");
  ip("-n", h.ns, "link", "set", "vx0", "up");
}

/** Remove a host (its namespace takes the veth pair with it); never throws. */
export function removeHost(h: Host): void {
  spawnSync("ip", ["netns", "del", h.ns], PROBE_BOUND);
  spawnSync("ip", ["link", "del", h.rootIf], PROBE_BOUND); // gone with the namespace normally
  releaseSubnet(h.subnet);
}

/** Remove leftovers of earlier runs killed before their cleanup (names start with tpdk-<tag>). */
export function removeStaleHosts(prefix = "tpdk-"): void {
  const r = spawnSync("ip", ["netns", "list"], { ...PROBE_BOUND, encoding: "utf8" });
  for (const line of (r.stdout ?? "").split("\n")) {
    const name = line.split(" ")[0]!;
    const m = /^tpdk-(\d+)-\d+$/.exec(name);
    if (!m || !name.startsWith(prefix)) continue;
    // Only namespaces of test processes that are gone.
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync("ip", ["netns", "del", name], PROBE_BOUND);
  }
}

/** The subnets this process holds: the listening socket that reserves each (see reserveSubnet). */
const heldSubnets = new Map<number, net.Server>();

/**
 * Reserve `n` /24s under 10.99.0.0/16 that no interface of the root namespace uses and no
 * other process holds, from `start` on (default from the pid, to spread parallel runs).
 * Reading `ip addr` alone was no reservation: two test processes between their read and their
 * `ip addr add` picked the same subnet. Each subnet is now held by a listening Unix socket in the
 * abstract namespace, `tpdk-subnet-10.99.S`: the kernel binds a name once per network namespace
 * and frees it when its process exits, however it exits (no stale locks). Held until
 * releaseSubnet (removeHost calls it) or the process's end.
 */
export async function freeSubnets(n: number, start = 1 + (process.pid % 200)): Promise<number[]> {
  const used = ip("-4", "-o", "addr", "show");
  const out: number[] = [];
  let s = start;
  try {
    for (let tries = 0; out.length < n; tries++, s = (s % 250) + 1) {
      if (tries > 250) throw new Error("no free 10.99.x.0/24 subnet left in the root namespace");
      if (!used.includes(`10.99.${s}.`) && (await reserveSubnet(s))) out.push(s);
    }
  } catch (e) {
    for (const x of out) releaseSubnet(x);
    throw e;
  }
  return out;
}

/** Bind the subnet's abstract socket name: false when another process (or this one) holds it. */
async function reserveSubnet(s: number): Promise<boolean> {
  if (heldSubnets.has(s)) return false;
  const server = net.createServer();
  const bound = await new Promise<boolean>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve(false) : reject(e)));
    server.listen(`\0tpdk-subnet-10.99.${s}`, () => resolve(true));
  });
  if (!bound) return false;
  server.unref(); // the reservation does not keep the process alive
  heldSubnets.set(s, server);
  return true;
}

/** Give a subnet of freeSubnets back (after its addresses are gone); a no-op for one not held. */
export function releaseSubnet(s: number): void {
  heldSubnets.get(s)?.close();
  heldSubnets.delete(s);
}

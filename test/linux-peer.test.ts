// Linux as a real peer: two network namespaces, each with a vxlan interface
// whose remote is one of tpdk's udp wires, and l2fwd forwarding between the
// two ports untouched. Traffic from the Linux network stack crosses tpdk and
// is answered:
//
//   ns1: ping / UDP client 10.200.0.1 on vx0 (VNI 42)       ns2: vx0 10.200.0.2, UDP echo server
//        | VXLAN in UDP to 10.99.A.1:4789                        ^ VXLAN in UDP from 10.99.B.1:4789
//   veth 10.99.A.2 <-> 10.99.A.1 (root)                     veth 10.99.B.2 <-> 10.99.B.1 (root)
//        port 0: wire=udp,local=10.99.A.1:4789  --l2fwd-->  port 1: wire=udp,local=10.99.B.1:4789
//
// The namespaces and veth pairs are our own test hosts in this sandbox; tpdk
// only ever sends to their addresses. They carry this process's pid in their
// names and are removed in afterAll whatever happens (and leftovers of killed
// runs are removed first). Skipped, with the reason printed, where
// namespaces cannot be made (not root, no `ip` or `ping`, a container that
// forbids them).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownedChild, tempDir } from "@tpdk/testing/e2e";
import {
  type Host, L2fwdChild, addHost, addVxlan, freeSubnets, netnsUnavailable, removeHost, removeStaleHosts,
} from "@tpdk/testing/e2e";

const unavailable = netnsUnavailable();
if (unavailable) console.warn(`linux-peer.test: skipped: ${unavailable}`);

const VNI = 42;
const hosts: Host[] = [];
let l2fwd: L2fwdChild | undefined;
let tmp: ReturnType<typeof tempDir> | undefined;

/** Run a command to completion; stdout, stderr and exit code. */
function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = ownedChild(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      c.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    c.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// A UDP echo server (ns2): answers every datagram with itself, keeps the
// chunks, and on "FIN <n>" answers "HASH <sha256 of the n chunks in order>".
// Control messages are padded with spaces beyond the MTU too (see CLIENT).
const SERVER = `
import dgram from "node:dgram";
import { createHash } from "node:crypto";
const [addr, port] = process.argv.slice(2);
const chunks = new Map();
const s = dgram.createSocket("udp4");
s.on("message", (m, r) => {
  if (m.length >= 4 && m.toString("latin1", 0, 4) === "FIN ") {
    const n = Number(m.toString("latin1", 4).trim());
    const h = createHash("sha256");
    for (let i = 0; i < n; i++) h.update(chunks.get(i) ?? Buffer.alloc(0));
    s.send(Buffer.from(("HASH " + h.digest("hex") + " " + chunks.size + " ").padEnd(2000)), r.port, r.address);
    return;
  }
  chunks.set(m.readUInt32BE(0), Buffer.from(m.subarray(4)));
  s.send(m, r.port, r.address);
});
s.bind(Number(port), addr, () => console.log("listening"));
setTimeout(() => process.exit(3), 60000);
`;

// The client (ns1): sends the file in numbered chunks, 4 in flight, checks
// each echo byte for byte, resends a chunk unanswered for 300 ms, then asks
// for the hash. Prints one JSON line.
//
// Chunks are 4000 bytes, larger than vx0's MTU (1450), so each datagram
// crosses tpdk as 3 IP fragments. Not only for the fragments: Linux leaves
// the UDP checksum of a datagram that fits the MTU to the "hardware" of
// vx0/veth (CHECKSUM_PARTIAL), and a user-space wire receives those bytes
// before anything completes it, so the far namespace would drop them
// (InCsumErrors); `ethtool -K vx0 tx off` avoids it, fragmented datagrams
// are checksummed in software anyway (see WIRES.md, udp).
const CLIENT = `
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
const [file, addr, port] = process.argv.slice(2);
const data = readFileSync(file);
const CHUNK = 4000;
const n = Math.ceil(data.length / CHUNK);
const msg = (i) => { const b = Buffer.alloc(4 + Math.min(CHUNK, data.length - i * CHUNK)); b.writeUInt32BE(i, 0); data.copy(b, 4, i * CHUNK, i * CHUNK + b.length - 4); return b; };
const s = dgram.createSocket("udp4");
const pending = new Map();
let next = 0, echoed = 0, mismatched = 0, resent = 0;
const pump = () => { while (pending.size < 4 && next < n) { const i = next++; pending.set(i, Date.now()); s.send(msg(i), Number(port), addr); } };
s.on("message", (m) => {
  if (m.toString("latin1", 0, 5) === "HASH ") {
    const [, hash, count] = m.toString("latin1").trim().split(" ");
    console.log(JSON.stringify({ chunks: n, echoed, mismatched, resent, hash, serverChunks: Number(count) }));
    process.exit(0);
  }
  const i = m.readUInt32BE(0);
  if (!pending.has(i)) return;
  if (Buffer.compare(m, msg(i)) !== 0) mismatched++;
  pending.delete(i);
  echoed++;
  pump();
  if (echoed === n) { const fin = () => s.send(Buffer.from(("FIN " + n).padEnd(2000)), Number(port), addr); fin(); setInterval(fin, 500); }
});
setInterval(() => { const now = Date.now(); for (const [i, t] of pending) if (now - t > 300) { pending.set(i, now); resent++; s.send(msg(i), Number(port), addr); } }, 50);
s.bind(0, () => pump());
setTimeout(() => { console.log(JSON.stringify({ timeout: true, chunks: n, echoed, resent })); process.exit(2); }, 50000);
`;

describe.skipIf(unavailable !== null)("Linux network namespaces as real peers of tpdk's udp wires", () => {
  beforeAll(async () => {
    removeStaleHosts();
    const tag = String(process.pid);
    const [a, b] = await freeSubnets(2);
    hosts.push(addHost(tag, 1, a!));
    hosts.push(addHost(tag, 2, b!));
    addVxlan(hosts[0]!, VNI, "10.200.0.1/24", "02:00:0a:c8:00:01");
    addVxlan(hosts[1]!, VNI, "10.200.0.2/24", "02:00:0a:c8:00:02");
    const [h1, h2] = hosts as [Host, Host];
    l2fwd = new L2fwdChild([
      "-l", "0",
      "--vdev", `virtio0,wire=udp,local=${h1.rootAddr}:4789,remote=${h1.nsAddr}:4789,vxlan=${VNI}`,
      "--vdev", `virtio1,wire=udp,local=${h2.rootAddr}:4789,remote=${h2.nsAddr}:4789,vxlan=${VNI}`,
      "--", "-p", "0x3", "-q", "2", "--no-mac-updating", "-T", "1", "--json",
    ]);
    // The first statistics line: the lcore is forwarding (the launch itself can take a while on a loaded machine).
    await l2fwd.waitFor("l2fwd to forward", (ports) => ports !== null, 30_000);
    tmp = tempDir();
  }, 60_000);

  afterAll(async () => {
    l2fwd?.kill();
    for (const h of hosts) removeHost(h);
    tmp?.cleanup();
  });

  // -w: ping waits up to 20 s until it has every reply it asked for (without it a reply later
  // than twice the slowest so far, a scheduling stall on a loaded machine, counts as lost; with
  // it a late reply may make ping send one more request); frames tpdk drops never come back.
  it("ping from ns1's vxlan to ns2's crosses tpdk and is answered (and back, near the MTU)", async () => {
    const r = await run("ip", ["netns", "exec", hosts[0]!.ns, "ping", "-c", "5", "-i", "0.2", "-W", "3", "-w", "20", "10.200.0.2"]);
    expect(r.stdout).toMatch(/\d+ packets transmitted, 5 received/);
    // 1400 bytes of ICMP data: a 1442-byte frame inside a 1492-byte datagram (vxlan's MTU is 1450).
    const big = await run("ip", ["netns", "exec", hosts[1]!.ns, "ping", "-c", "3", "-i", "0.2", "-W", "3", "-w", "20", "-s", "1400", "10.200.0.1"]);
    expect(big.stdout).toMatch(/\d+ packets transmitted, 3 received/);
  });

  it("a UDP transfer of a known file crosses tpdk both ways, byte for byte", async () => {
    const dir = tmp!.dir;
    const file = join(dir, "payload.bin");
    const data = Buffer.alloc(300_000); // 75 chunks of 4000 bytes
    let x = 0x2545f491;
    for (let i = 0; i < data.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = x & 0xff;
    }
    writeFileSync(file, data);
    writeFileSync(join(dir, "server.mjs"), SERVER);
    writeFileSync(join(dir, "client.mjs"), CLIENT);
    const server = ownedChild(spawn("ip", ["netns", "exec", hosts[1]!.ns, process.execPath, join(dir, "server.mjs"), "10.200.0.2", "5000"], { stdio: ["ignore", "pipe", "pipe"] }));
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.once("data", () => resolve());
        server.once("close", (code) => reject(new Error(`echo server exited ${code}`)));
      });
      const r = await run("ip", ["netns", "exec", hosts[0]!.ns, process.execPath, join(dir, "client.mjs"), file, "10.200.0.2", "5000"], 60_000);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number | string>;
      console.log(`linux-peer: UDP transfer ${JSON.stringify(res)}`);
      expect(res.chunks).toBe(75);
      expect(res.echoed).toBe(75);
      expect(res.mismatched).toBe(0);
      expect(res.serverChunks).toBe(75);
      expect(res.hash).toBe(createHash("sha256").update(data).digest("hex"));
    } finally {
      server.kill("SIGKILL");
    }
  });

  it("l2fwd forwarded every frame both ways and exits 0 on SIGINT", async () => {
    const before = l2fwd!.lastPorts();
    const r = await l2fwd!.stop();
    expect(r).toEqual({ code: 0, signal: null });
    expect(l2fwd!.stdout).toContain("Bye...");
    const ports = l2fwd!.lastPorts()!;
    console.log(`linux-peer: l2fwd final ${JSON.stringify(ports.map((p) => ({ port: p.port, rx: p.rx, tx: p.tx, dropped: p.dropped, missed: p.missed })))}`);
    expect(before).not.toBeNull();
    // Pings (8 + replies), ARP and the transfer (75 chunks of 3 fragments + echoes, FIN, HASH) went both ways.
    for (const p of ports) {
      expect(p.rx).toBeGreaterThan(225);
      expect(p.dropped).toBe(0);
      expect(p.missed).toBe(0);
    }
    // Each port's received frames went out of the other one.
    expect(ports[0]!.rx).toBe(ports[1]!.tx);
    expect(ports[1]!.rx).toBe(ports[0]!.tx);
    expect(ports[0]!.wire_delivered).toBe(ports[0]!.tx);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import * as dgram from "node:dgram";
import { Memory, parseDevargs } from "@tpdk/eal";
import { buildUdpFrame } from "./frame.js";
import { usageErrorOf as error, wireSpec as spec } from "@tpdk/testing/vhost";
import { until } from "@tpdk/testing/until";
import { UDP_RX_FRAMES, UDP_TX_FRAMES, UdpWire } from "./wire-udp.js";
import { readVxlanVni, writeVxlanHeader } from "./vxlan.js";
import {
  WIRE_STATS_BYTES, createWire, describeWireSpec, readWireStats, validateWirePeers, type UdpWireSpec,
} from "./wires.js";
import { readyAt, consumeAt } from "./at-time.js";

const toClose: Array<{ close(): void }> = [];
afterEach(() => {
  for (const c of toClose.splice(0)) {
    try {
      c.close();
    } catch {
      // closed already
    }
  }
});

/** A plain socket on 127.0.0.1 playing the remote end; collects what it receives. */
async function remoteSocket(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
  const sock = dgram.createSocket("udp4");
  toClose.push(sock);
  const got: Buffer[] = [];
  sock.on("message", (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  return { sock, port: sock.address().port, got };
}

/** A free UDP port on 127.0.0.1 (bound and released: the kernel will not hand it out again at once). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function udpWire(vxlan: string, remotePort: number) {
  const mem = Memory.create(16 << 20);
  const statsOffset = mem.reserve("stats", WIRE_STATS_BYTES).offset;
  const port = await freePort();
  const s = spec(`virtio0,wire=udp,local=127.0.0.1:${port},remote=127.0.0.1:${remotePort}${vxlan},check=1`) as UdpWireSpec;
  const wire = createWire(s, mem, statsOffset, 0) as UdpWire;
  toClose.push(wire);
  let wakes = 0;
  wire.eventLoop.setWake(() => wakes++);
  await wire.eventLoop.open();
  const buf = mem.reserve("frames", 1 << 20).offset;
  return { mem, wire, port, buf, stats: () => readWireStats(mem, statsOffset), wakes: () => wakes };
}

function frame(len: number, seq: number): Uint8Array {
  return buildUdpFrame({ length: len, srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], srcPort: 9, stream: 3, seq, timestamp: 0 });
}

function vxlanDatagram(vni: number, f: Uint8Array, flags = 0x08): Buffer {
  const d = Buffer.alloc(8 + f.length);
  writeVxlanHeader(d, 0, vni);
  d[0] = flags;
  d.set(f, 8);
  return d;
}

describe("parseWireSpec: udp", () => {
  it("takes local, remote and vxlan", () => {
    expect(spec("virtio0,wire=udp,local=10.99.1.1:4789,remote=10.99.1.2:4789,vxlan=42")).toEqual({
      kind: "udp", check: false, latency: false, vdev: "virtio0", family: 4,
      local: { address: "10.99.1.1", port: 4789 }, remote: { address: "10.99.1.2", port: 4789 }, vni: 42,
    });
    const v6 = spec("virtio1,wire=udp,local=[::1]:5000,remote=[::1]:5001") as UdpWireSpec;
    expect(v6).toMatchObject({ family: 6, local: { address: "::1", port: 5000 }, vni: null });
    expect(describeWireSpec(v6)).toBe("udp local=[::1]:5000 remote=[::1]:5001");
    expect(describeWireSpec(spec("virtio0,wire=udp,local=10.0.0.1:1,remote=10.0.0.2:2,vxlan=7"))).toBe(
      "udp local=10.0.0.1:1 remote=10.0.0.2:2 vxlan=7",
    );
  });

  it("names the key and the fix for bad addresses, ports and VNIs", () => {
    expect(error(() => spec("virtio0,wire=udp,remote=10.0.0.2:1"))).toBe(
      "virtio0: wire=udp needs local=ADDR:PORT, the address to bind, e.g. local=10.99.1.1:4789",
    );
    expect(error(() => spec("virtio0,wire=udp,local=10.0.0.1:1"))).toMatch(/^virtio0: wire=udp needs remote=ADDR:PORT, the address to send to/);
    expect(error(() => spec("virtio0,wire=udp,local=localhost:1,remote=10.0.0.2:1"))).toBe(
      "virtio0: local=localhost:1 is not ADDR:PORT; use an IP address and a port, e.g. local=10.99.1.1:4789 ([ADDR]:PORT for IPv6); names are not looked up",
    );
    expect(error(() => spec("virtio0,wire=udp,local=10.0.0.1,remote=10.0.0.2:1"))).toMatch(/local=10.0.0.1 is not ADDR:PORT/);
    expect(error(() => spec("virtio0,wire=udp,local=::1:5,remote=10.0.0.2:1"))).toMatch(/local=::1:5 is not ADDR:PORT/);
    expect(error(() => spec("virtio0,wire=udp,local=10.0.0.1:0,remote=10.0.0.2:1"))).toBe(
      "virtio0: local=10.0.0.1:0: port 0 is out of range; use 1..65535 (VXLAN's is 4789)",
    );
    expect(error(() => spec("virtio0,wire=udp,local=10.0.0.1:1,remote=10.0.0.2:70000"))).toMatch(/port 70000 is out of range/);
    expect(error(() => spec("virtio0,wire=udp,local=10.0.0.1:1,remote=[::1]:1"))).toMatch(/different IP versions/);
    expect(error(() => spec("virtio0,wire=udp,local=10.0.0.1:1,remote=10.0.0.2:1,vxlan=16777216"))).toBe(
      "virtio0: vxlan=16777216 is not a VXLAN network identifier; use 0..16777215, e.g. vxlan=42",
    );
    expect(error(() => spec("virtio0,wire=sink,vxlan=1"))).toMatch(/vxlan= applies to wire=udp only/);
  });

  it("validateWirePeers refuses two udp wires on one local address", () => {
    const ports = ["virtio0,wire=udp,local=10.0.0.1:4789,remote=10.0.0.2:4789", "virtio1,wire=udp,local=10.0.0.1:4789,remote=10.0.0.3:4789"].map(
      (s) => ({ name: parseDevargs(s).name, wire: spec(s) }),
    );
    expect(error(() => validateWirePeers(ports))).toBe(
      "virtio1: local=10.0.0.1:4789 is already the local address of virtio0; give each udp wire its own port",
    );
  });
});

describe("vxlan header", () => {
  it("writes flags 0x08 and the VNI in bytes 4..6 (RFC 7348), reads it back, ignores reserved bits", () => {
    const b = new Uint8Array(10).fill(0xee);
    writeVxlanHeader(b, 1, 0xabcdef);
    expect([...b.subarray(1, 9)]).toEqual([0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
    expect(readVxlanVni(b, 1, 8)).toBe(0xabcdef);
    b[1] = 0x08 | 0x80;
    b[2] = 0xff;
    expect(readVxlanVni(b, 1, 8)).toBe(0xabcdef);
    b[1] = 0x80; // no I flag
    expect(readVxlanVni(b, 1, 8)).toBe(-1);
    expect(readVxlanVni(b, 1, 7)).toBe(-1);
  });
});

describe("udp wire over 127.0.0.1", () => {
  it("offers each received datagram as a frame, in order, and wakes the device loop", async () => {
    const { mem, wire, port, buf, stats, wakes } = await udpWire("", 9);
    const peer = await remoteSocket();
    const frames = [60, 1514, 100, 9014].map((l, i) => frame(l, i));
    for (const f of frames) peer.sock.send(f, port, "127.0.0.1");
    await until(() => readyAt(wire, 0) === frames.length, 10_000, "4 frames due");
    expect(wakes()).toBe(4);
    for (const f of frames) {
      expect(wire.frameLength()).toBe(f.length);
      wire.produce(mem.u8, buf);
      expect(mem.u8.subarray(buf, buf + f.length)).toEqual(f);
    }
    expect(readyAt(wire, 0)).toBe(0);
    expect(stats()).toMatchObject({
      kind: "udp", datagramsIn: 4, generated: 4, missed: 0, generatedBytes: 60 + 1514 + 100 + 9014, exhausted: false,
    });
    expect(wire.exhausted()).toBe(false);
  });

  it("with vxlan=: strips a good header, counts and drops bad ones and runts", async () => {
    const { mem, wire, port, buf, stats } = await udpWire(",vxlan=42", 9);
    const peer = await remoteSocket();
    const good = frame(60, 0);
    peer.sock.send(vxlanDatagram(42, good), port, "127.0.0.1");
    peer.sock.send(vxlanDatagram(43, good), port, "127.0.0.1"); // another VNI
    peer.sock.send(vxlanDatagram(42, good, 0x00), port, "127.0.0.1"); // I flag clear
    peer.sock.send(Buffer.from([8, 0, 0, 0]), port, "127.0.0.1"); // shorter than the header
    peer.sock.send(vxlanDatagram(42, good.subarray(0, 13)), port, "127.0.0.1"); // runt frame
    peer.sock.send(vxlanDatagram(42, frame(61, 1), 0x08 | 0x40), port, "127.0.0.1"); // reserved bit: ignored
    await until(() => stats().datagramsIn === 6, 10_000, "6 datagrams");
    expect(stats()).toMatchObject({ datagramsIn: 6, badVxlan: 3, badLength: 1 });
    expect(readyAt(wire, 0)).toBe(2);
    wire.produce(mem.u8, buf);
    expect(mem.u8.subarray(buf, buf + 60)).toEqual(good);
    expect(wire.frameLength()).toBe(61);
    wire.drop();
    const s = stats();
    expect(s).toMatchObject({ generated: 2, missed: 1 });
    // datagramsIn = generated + badVxlan + badLength + queued
    expect(s.datagramsIn).toBe(s.generated + s.badVxlan + s.badLength + wire.queued());
  });

  it("sends each transmitted frame as one datagram behind the VXLAN header; the driver's buffer is free at once", async () => {
    const peer = await remoteSocket();
    const { mem, wire, buf, stats } = await udpWire(",vxlan=4660", peer.port);
    const frames = [60, 1514, 333].map((l, i) => frame(l, i));
    for (const f of frames) {
      mem.u8.set(f, buf);
      consumeAt(wire, mem.u8, buf, f.length, performance.now());
      mem.u8.fill(0xaa, buf, buf + f.length); // the driver reuses the buffer
    }
    await until(() => peer.got.length === 3, 10_000, "3 datagrams at the remote");
    for (let i = 0; i < 3; i++) {
      const d = peer.got[i]!;
      expect([...d.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0x00, 0x12, 0x34, 0]);
      expect(new Uint8Array(d.subarray(8))).toEqual(frames[i]);
    }
    await until(() => stats().datagramsOut === 3, 10_000, "3 completions");
    expect(stats()).toMatchObject({ received: 3, datagramsOut: 3, sendDropped: 0, writeErrors: 0, badChecksum: 0, lost: 0 });
    expect(wire.inFlight()).toBe(0);
  });

  it("drops (sendDropped) when every send buffer is in flight, and recycles them on completion", async () => {
    const peer = await remoteSocket();
    const { mem, wire, buf, stats } = await udpWire("", peer.port);
    const f = frame(60, 0);
    mem.u8.set(f, buf);
    // Completions only arrive when the event loop turns: no turn between these sends.
    for (let i = 0; i < UDP_TX_FRAMES + 50; i++) consumeAt(wire, mem.u8, buf, 60, 0);
    expect(wire.inFlight()).toBe(UDP_TX_FRAMES);
    expect(stats()).toMatchObject({ received: UDP_TX_FRAMES + 50, sendDropped: 50, datagramsOut: 0 });
    await until(() => wire.inFlight() === 0, 10_000, "completions");
    const s = stats();
    expect(s.datagramsOut + s.writeErrors).toBe(UDP_TX_FRAMES);
    expect(s.received).toBe(s.datagramsOut + s.sendDropped + s.writeErrors);
    consumeAt(wire, mem.u8, buf, 60, 0);
    expect(wire.inFlight()).toBe(1);
  });

  it("a full receive queue overflows: counted generated, missed and overflow; datagrams keep being read", async () => {
    const { mem, wire, port, buf, stats } = await udpWire("", 9);
    const peer = await remoteSocket();
    const n = UDP_RX_FRAMES + 40;
    const f = Buffer.from(frame(60, 0));
    for (let i = 0; i < n; i += 50) {
      for (let k = i; k < Math.min(n, i + 50); k++) peer.sock.send(f, port, "127.0.0.1");
      await until(() => stats().datagramsIn === Math.min(n, i + 50), 10_000, "datagrams read"); // keep the socket buffer short
    }
    expect(readyAt(wire, 0)).toBe(UDP_RX_FRAMES);
    expect(stats()).toMatchObject({ datagramsIn: n, generated: 40, missed: 40, overflow: 40 });
    for (let i = 0; i < UDP_RX_FRAMES; i++) wire.produce(mem.u8, buf);
    expect(stats()).toMatchObject({ generated: n, missed: 40 });
  });

  it("never throws on a closed socket: writeErrors", async () => {
    const { mem, wire, buf, stats } = await udpWire("", 9);
    wire.close();
    mem.u8.set(frame(60, 0), buf);
    expect(() => consumeAt(wire, mem.u8, buf, 60, 0)).not.toThrow();
    expect(stats()).toMatchObject({ received: 1, writeErrors: 1, datagramsOut: 0, lastWriteError: "socket closed" });
    wire.close(); // twice is fine
  });

  it("open() rejects with the address and the fix when the port is taken or the address is not ours", async () => {
    const taken = await remoteSocket();
    const mem = Memory.create(16 << 20);
    const mk = (local: string, i: number) =>
      createWire(spec(`virtio${i},wire=udp,local=${local},remote=127.0.0.1:9`), mem, mem.reserve(`s${i}`, WIRE_STATS_BYTES).offset, i) as UdpWire;
    const a = mk(`127.0.0.1:${taken.port}`, 0);
    toClose.push(a);
    await expect(a.eventLoop.open()).rejects.toThrow(`virtio0: wire=udp cannot bind local=127.0.0.1:${taken.port}: EADDRINUSE; another socket has it; choose a free port`);
    const b = mk("192.0.2.1:4789", 1); // TEST-NET-1: never an address of this host
    toClose.push(b);
    await expect(b.eventLoop.open()).rejects.toThrow("virtio1: wire=udp cannot bind local=192.0.2.1:4789: EADDRNOTAVAIL; it is not an address of this host");
  });
});

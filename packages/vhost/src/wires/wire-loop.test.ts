import { describe, expect, it } from "vitest";
import { Memory, parseDevargs } from "@tpdk/eal";
import { buildUdpFrame } from "./frame.js";
import { usageErrorOf as error, wireSpec as spec } from "@tpdk/testing/vhost";
import { LOOP_QUEUE_FRAMES, LoopWire, connectLoopWires } from "./wire-loop.js";
import {
  WIRE_STATS_BYTES, createWire, describeWireSpec, readWireStats, validateWirePeers,
} from "./wires.js";
import type { Wire } from "./wire.js";
import { readyAt, consumeAt } from "./at-time.js";

/** Two loop wires on devices 0 and 1 (or one looping to itself), built as the device thread builds them. */
function pair(peers: number[] = [1, 0], mem = Memory.create(16 << 20)) {
  const stats = peers.map((_, i) => mem.reserve(`stats${i}`, WIRE_STATS_BYTES).offset);
  const wires = peers.map((p, i) => createWire({ kind: "loop", peer: p, check: true, latency: false }, mem, stats[i]!, i));
  connectLoopWires(wires, peers.map((_, i) => `virtio${i}`));
  const buf = mem.reserve("frames", 1 << 20).offset;
  return { mem, wires, stats: (i: number) => readWireStats(mem, stats[i]!), buf };
}

/** A frame in EAL memory at `at` (the driver's TX buffer). */
function put(mem: Memory, at: number, frame: Uint8Array): number {
  mem.u8.set(frame, at);
  return frame.length;
}

function tpdkFrame(len: number, seq: number): Uint8Array {
  return buildUdpFrame({ length: len, srcMac: [2, 0, 0, 0, 0, 1], dstMac: [2, 0, 0, 0, 0, 2], srcPort: 9, stream: 7, seq, timestamp: 0 });
}

describe("parseWireSpec: loop", () => {
  it("takes peer=N", () => {
    expect(spec("virtio1,wire=loop,peer=2")).toEqual({ kind: "loop", check: false, latency: false, peer: 2 });
    expect(describeWireSpec(spec("virtio1,wire=loop,peer=2,check=1"))).toBe("loop peer=2 check=1");
  });

  it("needs a peer, a whole number", () => {
    expect(error(() => spec("virtio1,wire=loop"))).toMatch(/^virtio1: wire=loop needs peer=N, the port id of the other end/);
    expect(error(() => spec("virtio1,wire=loop,peer=x"))).toBe("virtio1: peer=x is not a port id; use the other end's port number, e.g. peer=1");
    expect(error(() => spec("virtio1,wire=loop,peer=-1"))).toMatch(/peer=-1 is not a port id/);
  });

  it("peer= belongs to loop, and loop takes no other wire's keys", () => {
    expect(error(() => spec("virtio1,wire=gen,peer=0"))).toBe(
      "virtio1: peer= applies to wire=loop only, and this device has wire=gen; remove peer= or use wire=loop",
    );
    expect(error(() => spec("virtio1,wire=loop,peer=0,size=64"))).toMatch(/size= applies to wire=gen only/);
  });
});

describe("validateWirePeers", () => {
  const ports = (...v: string[]) => v.map((s) => ({ name: parseDevargs(s).name, wire: spec(s) }));

  it("accepts loops that point back, and a port looped to itself", () => {
    validateWirePeers(ports("virtio0,wire=gen", "virtio1,wire=loop,peer=2", "virtio2,wire=loop,peer=1", "virtio3,wire=loop,peer=3"));
  });

  it("rejects a peer that is no port, no loop, or loops elsewhere", () => {
    expect(error(() => validateWirePeers(ports("virtio0,wire=loop,peer=1")))).toBe(
      "virtio0: peer=1 names no port; ports are numbered by --vdev order from 0, here 0..0: give the port id of the other end",
    );
    expect(error(() => validateWirePeers(ports("virtio0,wire=loop,peer=1", "virtio1,wire=sink")))).toBe(
      "virtio0: peer=1 is virtio1, whose wire is sink; give virtio1 wire=loop,peer=0",
    );
    expect(error(() => validateWirePeers(ports("virtio0,wire=loop,peer=1", "virtio1,wire=loop,peer=2", "virtio2,wire=loop,peer=1")))).toBe(
      "virtio0: peer=1 is virtio1, which loops to port 2; a loop joins two ports both ways, give virtio1 peer=0",
    );
  });
});

describe("loop wire", () => {
  it("a frame transmitted on one port is due on the peer, intact and in order, both ways", () => {
    const { mem, wires, stats, buf } = pair();
    const [a, b] = wires as [Wire, Wire];
    const frames = [60, 1514, 61, 9014, 100].map((len, i) => tpdkFrame(len, i));
    for (const f of frames) consumeAt(a, mem.u8, buf, put(mem, buf, f), 0);
    mem.u8.fill(0, buf, buf + 10000); // the driver reuses its buffer: the wire kept copies
    expect(readyAt(a, 0)).toBe(0);
    expect(readyAt(b, 0)).toBe(frames.length);
    for (const f of frames) {
      expect(b.frameLength()).toBe(f.length);
      b.produce(mem.u8, buf + 100);
      expect(mem.u8.subarray(buf + 100, buf + 100 + f.length)).toEqual(f);
    }
    expect(readyAt(b, 0)).toBe(0);
    consumeAt(b, mem.u8, buf, put(mem, buf, frames[0]!), 0);
    expect(readyAt(a, 0)).toBe(1);
    a.produce(mem.u8, buf + 100);
    expect(stats(1)).toMatchObject({ kind: "loop", generated: 5, missed: 0, overflow: 0, received: 1, exhausted: false });
    expect(stats(1).generatedBytes).toBe(frames.reduce((s, f) => s + f.length, 0));
    expect(stats(0)).toMatchObject({ generated: 1, received: 5, lost: 0, badChecksum: 0, foreign: 0 });
  });

  it("counts a frame the peer had no buffer for as missed there: generated = produced + missed", () => {
    const { mem, wires, stats, buf } = pair();
    const [a, b] = wires as [Wire, Wire];
    for (let i = 0; i < 10; i++) consumeAt(a, mem.u8, buf, put(mem, buf, tpdkFrame(64 + i, i)), 0);
    for (let i = 0; i < 10; i++) {
      if (i % 3 === 0) b.drop();
      else b.produce(mem.u8, buf + 4096);
    }
    const s = stats(1);
    expect(s).toMatchObject({ generated: 10, missed: 4, overflow: 0 });
    expect(s.generatedBytes).toBe(10 * 64 + 45);
    expect(stats(0).received).toBe(10);
  });

  it("a full inbound queue drops at the peer (overflow, counted generated and missed), never blocks the sender", () => {
    const { mem, wires, stats, buf } = pair();
    const [a, b] = wires as [LoopWire, LoopWire];
    const n = LOOP_QUEUE_FRAMES + 10;
    for (let i = 0; i < n; i++) consumeAt(a, mem.u8, buf, put(mem, buf, tpdkFrame(60, i)), 0);
    expect(b.queued()).toBe(LOOP_QUEUE_FRAMES);
    expect(stats(1)).toMatchObject({ generated: 10, missed: 10, overflow: 10 });
    // by bytes too: 1 MiB holds 692 frames of 1514 bytes
    const big = pair();
    const [c, d] = big.wires as [LoopWire, LoopWire];
    for (let i = 0; i < 700; i++) consumeAt(c, big.mem.u8, big.buf, put(big.mem, big.buf, tpdkFrame(1514, i)), 0);
    expect(d.queued()).toBe(692);
    expect(big.stats(1)).toMatchObject({ generated: 8, missed: 8, overflow: 8 });
    // Draining makes room again; the identity holds throughout.
    for (let i = 0; i < 692; i++) d.produce(big.mem.u8, big.buf + 65536);
    consumeAt(c, big.mem.u8, big.buf, put(big.mem, big.buf, tpdkFrame(1514, 700)), 0);
    expect(d.queued()).toBe(1);
    const s = big.stats(1);
    expect(big.stats(0).received).toBe(s.generated + d.queued());
    expect(s.generated - s.missed).toBe(692);
  });

  it("a port looped to itself receives what it transmits (loopback plug)", () => {
    const { mem, wires, stats, buf } = pair([0]);
    const [a] = wires as [Wire];
    consumeAt(a, mem.u8, buf, put(mem, buf, tpdkFrame(128, 0)), 0);
    expect(readyAt(a, 0)).toBe(1);
    a.produce(mem.u8, buf + 200);
    expect(mem.u8.subarray(buf + 200, buf + 328)).toEqual(tpdkFrame(128, 0));
    expect(stats(0)).toMatchObject({ generated: 1, received: 1 });
  });

  it("connectLoopWires refuses a peer that is missing or does not point back", () => {
    const mem = Memory.create(16 << 20);
    const mk = (peer: number, i: number) =>
      createWire({ kind: "loop", peer, check: false, latency: false }, mem, mem.reserve(`s${i}`, WIRE_STATS_BYTES).offset, i);
    const sink = createWire({ kind: "sink", check: false, latency: false }, mem, mem.reserve("s9", WIRE_STATS_BYTES).offset, 9);
    expect(() => connectLoopWires([mk(3, 0)], ["virtio0"])).toThrow("virtio0: wire=loop,peer=3: there is no device 3 (devices 0..0)");
    expect(() => connectLoopWires([mk(1, 1), sink], ["virtio0", "virtio1"])).toThrow("virtio0: wire=loop,peer=1: virtio1 is not a loop wire with peer=0");
  });
});

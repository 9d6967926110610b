import { fileURLToPath } from "node:url";
import { Memory } from "@tpdk/eal";
import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { PAYLOAD_OFF, PL_SEQ, buildUdpFrame } from "../wires/frame.js";
import { TestWire, testWireSpec } from "@tpdk/testing/vhost";
import { connectLoopWires } from "../wires/wire-loop.js";
import { WIRE_STATS_BYTES, createWire, parseWireSpec } from "../wires/wires.js";
import { PEEK_BYTES, flowHash } from "./rx-steer.js";
import { postCtrl, sendCtrl } from "@tpdk/testing/vhost";
import { type Fixture, deviceFixture, frame } from "@tpdk/testing/vhost";
import type { Wire } from "../wires/wire.js";
import { readyAt, consumeAt } from "../wires/at-time.js";

const W = v.VRING_DESC_F_WRITE;
const N = v.VRING_DESC_F_NEXT;
const { VIRTIO_NET_OK: OK, VIRTIO_NET_ERR: ERR, VIRTIO_NET_CTRL_MQ: MQ, VIRTIO_NET_CTRL_RX: RXC } = v;
const PAIRS_SET = v.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;

/** le16 */
const le16 = (n: number): number[] => [n & 0xff, n >>> 8];

/** A UDP frame of flow `flow` (source port 1000 + flow) carrying `seq`. */
function udp(flow: number, seq: number, length = 60): Uint8Array {
  return buildUdpFrame({ length, srcPort: 1000 + flow, dstPort: 9, seq });
}

/**
 * A list wire that can show its next frame (Wire.peek), as the device's
 * production wires do: frames are offered `perPass` at a time, in order,
 * once the test opened the gate (open(): the fixture's traps step the loop).
 */
class PeekWire implements Wire {
  readonly kind = "peek-test";
  readonly lossless = false;
  readonly needsClock = false;
  produced = 0;
  dropped = 0;
  private next = 0;
  private gate = 0;
  constructor(private readonly frames: Uint8Array[], private readonly perPass = 64, canPeek = true) {
    if (!canPeek) (this as { peek?: unknown }).peek = undefined;
  }
  /** Let the wire offer its frames from now on. */
  open(): this {
    this.gate = this.frames.length;
    return this;
  }
  ready(): number {
    const left = this.gate - this.next;
    return left < this.perPass ? left : this.perPass;
  }
  frameLength(): number {
    return this.frames[this.next]!.length;
  }
  peek(u8: Uint8Array, addr: number, max: number): number {
    const f = this.frames[this.next]!;
    const n = f.length < max ? f.length : max;
    for (let i = 0; i < n; i++) u8[addr + i] = f[i]!;
    return n;
  }
  produce(u8: Uint8Array, addr: number): void {
    u8.set(this.frames[this.next++]!, addr);
    this.produced++;
  }
  drop(): void {
    this.next++;
    this.dropped++;
  }
  consume(): void {}
  exhausted(): boolean {
    return this.next === this.frames.length;
  }
  flush(): void {}
  close(): void {}
}

/** Post `n` RX buffers of `size` bytes on data ring `q` (heads 0..n-1). */
function postRx(f: Fixture, q: number, n: number, size = 256): number[] {
  const r = f.rings[q]!;
  const addrs: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = f.arena.alloc(size);
    r.setDesc(i, a, size, W);
    r.add(i);
    addrs.push(a);
  }
  r.publish();
  return addrs;
}

/** The frames the device wrote into ring q's used entries, in used order (header skipped). */
function received(f: Fixture, q: number, addrs: number[]): Uint8Array[] {
  const r = f.rings[q]!;
  const out: Uint8Array[] = [];
  for (let i = 0; i < r.usedIdx(); i++) {
    const e = r.usedElem(i);
    out.push(f.mem.u8.slice(addrs[e.id]! + 12, addrs[e.id]! + e.len));
  }
  return out;
}

function seqOf(fr: Uint8Array): number {
  const p = PAYLOAD_OFF + PL_SEQ;
  return ((fr[p]! << 24) | (fr[p + 1]! << 16) | (fr[p + 2]! << 8) | fr[p + 3]!) >>> 0;
}
function flowOf(fr: Uint8Array): number {
  return ((fr[34]! << 8) | fr[35]!) - 1000;
}

/** Post one TX chain (header + 60-byte frame in one descriptor) on data ring q. */
function postTx(f: Fixture, q: number, head = 0): void {
  const r = f.rings[q]!;
  const a = f.arena.alloc(72);
  f.mem.u8.fill(0, a, a + 72);
  r.setDesc(head, a, 72);
  r.add(head);
  r.publish();
}

describe("control virtqueue (§5.1.6.5)", () => {
  it("VQ_PAIRS_SET: only pair 0 until the command, then n pairs; back to 1 pair", () => {
    const f = deviceFixture({ device: { queuePairs: 3 } });
    expect(f.ctrlIndex).toBe(6);
    postTx(f, 3);
    f.pass(2);
    expect(f.rings[3]!.usedIdx()).toBe(0); // transmitq2 is not used before VQ_PAIRS_SET
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(2))).toEqual({ ack: OK, len: 1 });
    f.pass();
    expect(f.rings[3]!.usedIdx()).toBe(1); // now it is served
    postTx(f, 5);
    f.pass(2);
    expect(f.rings[5]!.usedIdx()).toBe(0); // transmitq3: beyond the 2 pairs enabled
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(3))).toEqual({ ack: OK, len: 1 });
    f.pass();
    expect(f.rings[5]!.usedIdx()).toBe(1);
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(1))).toEqual({ ack: OK, len: 1 });
    postTx(f, 3, 1);
    f.pass(2);
    expect(f.rings[3]!.usedIdx()).toBe(1); // back to one pair
    const s = f.dev.stats();
    expect([s.ctrlCommands, s.ctrlErrors, s.errCtrlChain, s.txPackets]).toEqual([3, 0, 0, 2]);
  });

  it("answers ERR to a pair count of 0 or above max_virtqueue_pairs, and keeps the old count", () => {
    const f = deviceFixture({ device: { queuePairs: 2 } });
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(0)).ack).toBe(ERR);
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(3)).ack).toBe(ERR);
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(0x8000)).ack).toBe(ERR);
    postTx(f, 3);
    f.pass(2);
    expect(f.rings[3]!.usedIdx()).toBe(0);
    const s = f.dev.stats();
    expect([s.ctrlCommands, s.ctrlErrors, s.errCtrlChain]).toEqual([3, 3, 0]);
  });

  it("answers ERR to VQ_PAIRS_SET when MQ was not negotiated (control queue 2)", () => {
    const f = deviceFixture({ device: { queuePairs: 2 }, features: v.withFeature(deviceFixture({ noStart: true }).dev.offered, v.VIRTIO_NET_F_MQ, false) });
    expect(f.ctrlIndex).toBe(2);
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(1)).ack).toBe(ERR);
    expect(f.dev.stats().ctrlErrors).toBe(1);
  });

  it("accepts RX PROMISC / ALLMULTI on and off (no filter), ERR for other values and unknown commands", () => {
    const f = deviceFixture();
    expect(sendCtrl(f, RXC, v.VIRTIO_NET_CTRL_RX_PROMISC, [1]).ack).toBe(OK);
    expect(sendCtrl(f, RXC, v.VIRTIO_NET_CTRL_RX_ALLMULTI, [1]).ack).toBe(OK);
    expect(sendCtrl(f, RXC, v.VIRTIO_NET_CTRL_RX_PROMISC, [0]).ack).toBe(OK);
    expect(sendCtrl(f, RXC, v.VIRTIO_NET_CTRL_RX_PROMISC, [2]).ack).toBe(ERR);
    expect(sendCtrl(f, RXC, 2 /* ALLUNI: needs CTRL_RX_EXTRA */, [1]).ack).toBe(ERR);
    expect(sendCtrl(f, 1 /* MAC */, 0, [0, 0, 0, 0, 0, 0, 0, 0]).ack).toBe(ERR);
    expect(sendCtrl(f, 99, 7).ack).toBe(ERR);
    expect(sendCtrl(f, MQ, 1 /* RSS_CONFIG: no RSS */, [0, 0]).ack).toBe(ERR);
    const s = f.dev.stats();
    expect([s.ctrlCommands, s.ctrlErrors, s.errCtrlChain]).toEqual([8, 5, 0]);
  });

  it("MAC ADDR_SET (CTRL_MAC_ADDR negotiated): the config mac shows it with a new generation; ERR without the feature; a reset restores the configured MAC", () => {
    const f = deviceFixture();
    const mac = (): number[] => [0, 1, 2, 3, 4, 5].map((i) => f.client.readDeviceCfg(v.NET_CFG_MAC + i, 1));
    const mac0 = mac();
    const gen0 = f.client.readCommon(v.CC_CONFIG_GENERATION);
    expect(sendCtrl(f, v.VIRTIO_NET_CTRL_MAC, v.VIRTIO_NET_CTRL_MAC_ADDR_SET, [2, 0, 0, 0, 0x0a, 1]).ack).toBe(OK);
    expect(mac()).toEqual([2, 0, 0, 0, 0x0a, 1]);
    expect(f.client.readCommon(v.CC_CONFIG_GENERATION)).not.toBe(gen0);
    expect(sendCtrl(f, v.VIRTIO_NET_CTRL_MAC, v.VIRTIO_NET_CTRL_MAC_ADDR_SET, [2, 0, 0, 0, 0x0b]).ack).toBe(ERR); // 5 bytes
    expect(mac()).toEqual([2, 0, 0, 0, 0x0a, 1]);
    f.client.setStatus(0);
    expect(mac()).toEqual(mac0);
    const g = deviceFixture({ features: v.withFeature(deviceFixture({ noStart: true }).dev.offered, v.VIRTIO_NET_F_CTRL_MAC_ADDR, false) });
    expect(sendCtrl(g, v.VIRTIO_NET_CTRL_MAC, v.VIRTIO_NET_CTRL_MAC_ADDR_SET, [2, 0, 0, 0, 0x0a, 1]).ack).toBe(ERR);
  });

  it("counts commands whose data has the wrong size as malformed and answers ERR", () => {
    const f = deviceFixture({ device: { queuePairs: 2 } });
    expect(sendCtrl(f, MQ, PAIRS_SET, [2]).ack).toBe(ERR);
    expect(sendCtrl(f, MQ, PAIRS_SET, [2, 0, 0]).ack).toBe(ERR);
    expect(sendCtrl(f, RXC, v.VIRTIO_NET_CTRL_RX_PROMISC).ack).toBe(ERR);
    const s = f.dev.stats();
    expect([s.ctrlCommands, s.ctrlErrors, s.errCtrlChain]).toEqual([3, 3, 3]);
  });

  it("reads a command straddling descriptors and takes several commands per kick", () => {
    const f = deviceFixture({ device: { queuePairs: 2 } });
    const r = f.ctrl;
    const u8 = f.mem.u8;
    const b = [f.arena.alloc(1), f.arena.alloc(2), f.arena.alloc(1)];
    u8[b[0]!] = MQ;
    u8[b[1]!] = PAIRS_SET;
    u8[b[1]! + 1] = 2; // le16 2 split over two descriptors
    u8[b[2]!] = 0;
    const ack = f.arena.alloc(4);
    r.setDesc(0, b[0]!, 1, N, 1);
    r.setDesc(1, b[1]!, 2, N, 2);
    r.setDesc(2, b[2]!, 1, N, 3);
    r.setDesc(3, ack, 0, W | N, 4); // an empty writable descriptor first: the ack goes in the next
    r.setDesc(4, ack + 1, 1, W);
    const hdr2 = f.arena.alloc(3);
    u8.set([RXC, v.VIRTIO_NET_CTRL_RX_ALLMULTI, 1], hdr2);
    r.setDesc(5, hdr2, 3, N, 6);
    r.setDesc(6, ack + 2, 1, W);
    r.add(0);
    expect(postCtrl(f, 5, ack + 2)).toEqual({ ack: OK, len: 1 });
    expect(r.usedIdx()).toBe(2);
    expect(r.usedElem(0)).toEqual({ id: 0, len: 1 });
    expect(u8[ack + 1]).toBe(OK);
    expect(f.dev.stats().ctrlCommands).toBe(2);
  });

  it("malformed chains are counted and answered ERR, or returned with len 0 when they have no ack byte; never a crash", () => {
    const f = deviceFixture({ device: { queuePairs: 2 } });
    const r = f.ctrl;
    const u8 = f.mem.u8;
    const hdr = f.arena.alloc(4);
    u8.set([MQ, PAIRS_SET, 2, 0], hdr);
    const ack = f.arena.alloc(1);
    // 1. No device-writable byte: nothing to answer in.
    r.setDesc(0, hdr, 4, 0);
    expect(postCtrl(f, 0, ack)).toEqual({ ack: -1, len: 0 });
    // 2. Header shorter than class + command.
    r.setDesc(0, hdr, 1, N, 1);
    r.setDesc(1, ack, 1, W);
    u8[ack] = 0xee;
    expect(postCtrl(f, 0, ack)).toEqual({ ack: ERR, len: 1 });
    // 3. A readable descriptor after the writable one: the walk rejects it, nothing written.
    r.setDesc(0, ack, 1, W | N, 1);
    r.setDesc(1, hdr, 4, 0);
    u8[ack] = 0xee;
    expect(postCtrl(f, 0, ack)).toEqual({ ack: -1, len: 0 });
    expect(u8[ack]).toBe(0xee);
    // 4. A buffer outside shared memory.
    r.setDesc(0, f.mem.size - 2, 4, N, 1);
    r.setDesc(1, ack, 1, W);
    expect(postCtrl(f, 0, ack).len).toBe(0);
    // 5. A descriptor loop.
    r.setDesc(0, hdr, 4, N, 1);
    r.setDesc(1, ack, 1, W | N, 2);
    r.setDesc(2, ack, 1, W | N, 1);
    expect(postCtrl(f, 0, ack).len).toBe(0);
    // 6. Zero-length writable descriptors only.
    r.setDesc(0, hdr, 4, N, 1);
    r.setDesc(1, ack, 0, W);
    expect(postCtrl(f, 0, ack)).toEqual({ ack: -1, len: 0 });
    const s = f.dev.stats();
    expect(s.ctrlCommands).toBe(6);
    expect(s.ctrlErrors).toBe(6);
    expect(s.errCtrlChain).toBe(6);
    expect(s.errDescOrder).toBe(1);
    expect(s.errAddrRange).toBe(1);
    expect(s.errChainLength).toBe(1);
    expect(s.needsReset).toBe(0);
    // The device still works: a good command after all that.
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(2)).ack).toBe(OK);
  });

  it("a head index outside the control queue is fatal (DEVICE_NEEDS_RESET)", () => {
    const f = deviceFixture();
    expect(postCtrl(f, 200, 0).len).toBe(-1);
    expect(f.client.status() & v.STATUS_DEVICE_NEEDS_RESET).toBe(v.STATUS_DEVICE_NEEDS_RESET);
    expect(f.dev.stats().errHeadIndex).toBe(1);
  });

  it("takes a command posted without a kick within about a millisecond (housekeeping backstop)", () => {
    const f = deviceFixture({ device: { queuePairs: 2 } });
    const r = f.ctrl;
    const hdr = f.arena.alloc(4);
    f.mem.u8.set([MQ, PAIRS_SET, 2, 0], hdr);
    const ack = f.arena.alloc(1);
    r.setDesc(0, hdr, 4, N, 1);
    r.setDesc(1, ack, 1, W);
    r.add(0);
    r.publish();
    const deadline = performance.now() + 2000;
    while (r.usedIdx() === 0 && performance.now() < deadline) f.pass();
    expect(r.usedElem(0)).toEqual({ id: 0, len: 1 });
    expect(f.mem.u8[ack]).toBe(OK);
  });

  it("a reset goes back to one pair", () => {
    const f = deviceFixture({ device: { queuePairs: 2 } });
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(2)).ack).toBe(OK);
    f.client.negotiate(f.dev.offered);
    f.ctrl.setAvailIdx(0); // a fresh ring, as a driver sets it up after a reset
    for (let q = 0; q < 4; q++) f.client.setupQueue(q, f.rings[q]!);
    f.client.setupQueue(f.ctrlIndex, f.ctrl);
    f.client.driverOk();
    postTx(f, 3, 5);
    f.pass(2);
    expect(f.rings[3]!.usedIdx()).toBe(0);
  });
});

describe("automatic receive steering (§5.1.6.5.5)", () => {
  it("flowHash: IPv4/UDP only, deterministic, any field of the flow moves it", () => {
    const h = (fr: Uint8Array): number => flowHash(fr, 0, Math.min(fr.length, PEEK_BYTES));
    const a = udp(1, 0);
    expect(h(a)).toBeGreaterThanOrEqual(0);
    expect(h(udp(1, 99, 300))).toBe(h(a)); // same flow, other payload and length
    expect(h(udp(2, 0))).not.toBe(h(a));
    const dst = udp(1, 0);
    dst[33] ^= 1; // destination address
    expect(h(dst)).not.toBe(h(a));
    const vlan = new Uint8Array(64);
    vlan.set(a.subarray(0, 12));
    vlan.set([0x81, 0x00, 0, 5], 12);
    vlan.set(a.subarray(12, 60), 16);
    expect(h(vlan)).toBe(h(a));
    const frag = udp(1, 0);
    frag[20] = 0x20; // more fragments
    expect(h(frag)).toBe(-1);
    const tcp = udp(1, 0);
    tcp[23] = 6;
    expect(h(tcp)).toBe(-1);
    expect(h(frame(60))).toBe(-1); // not IPv4
    expect(flowHash(a, 0, 36)).toBe(-1); // ports not within what was peeked
  });

  it("steers each flow to one queue, in order, over the enabled pairs only after VQ_PAIRS_SET", () => {
    const flows = 8;
    const list: Uint8Array[] = [];
    for (let s = 0; s < 96; s++) list.push(udp(s % flows, s));
    const wire = new PeekWire(list, 16);
    const f = deviceFixture({ device: { queuePairs: 2 }, wire, queueSize: 128 });
    const a0 = postRx(f, 0, 128);
    const a2 = postRx(f, 2, 128);
    wire.open();
    f.pass(); // 16 frames, before VQ_PAIRS_SET: all on receiveq1
    expect([f.rings[0]!.usedIdx(), f.rings[2]!.usedIdx()]).toEqual([16, 0]);
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(2)).ack).toBe(OK);
    f.pass(8);
    const q0 = received(f, 0, a0);
    const q1 = received(f, 2, a2);
    expect(q0.length + q1.length).toBe(list.length);
    expect(q1.length).toBeGreaterThan(0);
    const where = new Map<number, number>();
    for (const [q, frames] of [[0, q0.slice(16)], [1, q1]] as const) {
      const last = new Map<number, number>();
      for (const fr of frames) {
        const fl = flowOf(fr);
        expect(where.get(fl) ?? q).toBe(q); // one flow, one queue
        where.set(fl, q);
        expect(seqOf(fr)).toBeGreaterThan(last.get(fl) ?? -1); // in order
        last.set(fl, seqOf(fr));
      }
    }
    expect(new Set(where.values()).size).toBe(2); // 8 flows use both queues
    expect(f.dev.stats().rxPackets).toBe(list.length);
  });

  it("spreads frames it cannot classify round-robin, and wires without peek too", () => {
    for (const canPeek of [true, false]) {
      const list = Array.from({ length: 40 }, (_, i) => (canPeek ? frame(60, i) : udp(0, i)));
      const wire = new PeekWire(list, 40, canPeek);
      const f = deviceFixture({ device: { queuePairs: 2 }, wire, queueSize: 64 });
      expect(sendCtrl(f, MQ, PAIRS_SET, le16(2)).ack).toBe(OK);
      postRx(f, 0, 64);
      postRx(f, 2, 64);
      wire.open();
      f.pass();
      expect([f.rings[0]!.usedIdx(), f.rings[2]!.usedIdx()]).toEqual([20, 20]);
    }
  });

  it("a starved queue misses its frames; the other queue keeps receiving", () => {
    const list: Uint8Array[] = [];
    for (let s = 0; s < 64; s++) list.push(udp(s % 16, s));
    const wire = new PeekWire(list, 64);
    const f = deviceFixture({ device: { queuePairs: 2 }, wire, queueSize: 64 });
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(2)).ack).toBe(OK);
    postRx(f, 0, 64); // receiveq2 gets no buffers
    wire.open();
    f.pass();
    const got = f.rings[0]!.usedIdx();
    const s = f.dev.stats();
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(64);
    expect(s.rxPackets).toBe(got);
    expect(s.rxMissed).toBe(64 - got);
    expect(wire.dropped).toBe(64 - got);
    expect(wire.produced).toBe(got);
  });

  it("steers only to enabled receive queues among the pairs", () => {
    const list = Array.from({ length: 32 }, (_, s) => udp(s % 8, s));
    const wire = new PeekWire(list, 32);
    const f = deviceFixture({ device: { queuePairs: 2 }, wire, noStart: true, queueSize: 64 });
    expect(f.client.negotiate(f.dev.offered)).toBe(true);
    // receiveq2 is not set up (a driver with 1 rx queue and 2 tx queues).
    for (const q of [0, 1, 3]) f.client.setupQueue(q, f.rings[q]!);
    f.client.setupQueue(f.ctrlIndex, f.ctrl);
    f.client.driverOk();
    expect(sendCtrl(f, MQ, PAIRS_SET, le16(2)).ack).toBe(OK);
    postRx(f, 0, 64);
    wire.open();
    f.pass();
    expect(f.rings[0]!.usedIdx()).toBe(32);
  });
});

describe("Wire.peek: the device sees the frame produce() will write, without taking it", () => {
  const FIXTURE = fileURLToPath(new URL("../../../../test/fixtures/wires/le-us.pcap", import.meta.url));
  const cases: [string, (mem: Memory) => Wire][] = [
    ["gen, flows and sizes cycling", (mem) => createWire(parseWireSpec("virtio0", new Map([["wire", "gen"], ["flows", "5"], ["size", "64:128"]])), mem, mem.reserve("st", WIRE_STATS_BYTES).offset, 0)],
    ["gen, seeded", (mem) => createWire(parseWireSpec("virtio0", new Map([["wire", "gen"], ["flows", "7"], ["seed", "3"]])), mem, mem.reserve("st", WIRE_STATS_BYTES).offset, 0)],
    ["pcap", (mem) => createWire(parseWireSpec("virtio0", new Map([["wire", "pcap"], ["rx_pcap", FIXTURE]])), mem, mem.reserve("st", WIRE_STATS_BYTES).offset, 0)],
    ["test", (mem) => new TestWire(testWireSpec(mem, "tw", [udp(1, 1), frame(20, 3), udp(2, 2, 90)]), mem)],
    ["loop", (mem) => {
      const w = createWire({ kind: "loop", peer: 0, check: false, latency: false }, mem, mem.reserve("st", WIRE_STATS_BYTES).offset, 0);
      connectLoopWires([w], ["virtio0"]);
      const a = mem.reserve("txbuf", 4096).offset;
      for (const [i, f] of [udp(1, 1), frame(30, 2), udp(3, 3, 200)].entries()) {
        mem.u8.set(f, a + 1024 * i);
        consumeAt(w, mem.u8, a + 1024 * i, f.length, 0);
      }
      return w;
    }],
  ];
  it.each(cases)("%s", (_, make) => {
    const mem = Memory.create(4 << 20);
    const wire = make(mem);
    const buf = mem.reserve("buf", 1 << 16).offset;
    expect(typeof wire.peek).toBe("function");
    let n = 0;
    for (let i = 0; i < 12 && readyAt(wire, 0) > 0; i++, n++) {
      const len = wire.frameLength();
      const seen = wire.peek!(mem.u8, buf + 4096, PEEK_BYTES);
      // At most what was asked, at least up to the UDP ports (these frames have no IP options).
      expect(seen).toBeLessThanOrEqual(Math.min(len, PEEK_BYTES));
      expect(seen).toBeGreaterThanOrEqual(Math.min(len, 38));
      const again = wire.peek!(mem.u8, buf + 8192, PEEK_BYTES); // peeking twice takes nothing
      expect(again).toBe(seen);
      wire.produce(mem.u8, buf);
      expect(mem.u8.slice(buf + 4096, buf + 4096 + seen)).toEqual(mem.u8.slice(buf, buf + seen));
      expect(mem.u8.slice(buf + 8192, buf + 8192 + seen)).toEqual(mem.u8.slice(buf, buf + seen));
    }
    expect(n).toBeGreaterThan(2);
  });
});

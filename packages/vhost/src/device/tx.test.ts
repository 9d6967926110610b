import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { type Fixture, deviceFixture, frame, writeDescTable } from "@tpdk/testing/vhost";

const W = v.VRING_DESC_F_WRITE;
const N = v.VRING_DESC_F_NEXT;
const I = v.VRING_DESC_F_INDIRECT;
/** Everything the device offers except IN_ORDER (so each chain gets its own used entry). */
const NOT_IN_ORDER = v.withFeature(deviceFixture({ noStart: true }).dev.offered, v.VIRTIO_F_IN_ORDER, false);

/** Put bytes in fresh arena memory; returns their address. */
function put(f: Fixture, bytes: Uint8Array, align = 16): number {
  const a = f.arena.alloc(Math.max(bytes.length, 1), align);
  f.mem.u8.set(bytes, a);
  return a;
}

/** A virtio-net header of `size` bytes with a recognisable (ignored) pattern where allowed. */
function hdr(size = 12): Uint8Array {
  const h = new Uint8Array(size);
  h[0] = 0; // flags
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Write an indirect table at a fresh address: entries [addr, len, flags, next]. */
function table(f: Fixture, entries: Array<[number, number, number, number]>): number {
  const t = f.arena.alloc(16 * entries.length, 16);
  writeDescTable(f.mem, t, entries);
  return t;
}

describe("TX chain shapes (§2.7.4 message framing, §5.1.6.2)", () => {
  it("header and frame in one descriptor: handed to the wire in place", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(60, 1);
    tx.setDesc(0, put(f, concat(hdr(), fr)), 72);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
    expect(tx.usedIdx()).toBe(1);
    expect(tx.usedElem(0)).toEqual({ id: 0, len: 0 });
    const s = f.dev.stats();
    expect([s.txPackets, s.txBytes, s.txGathered, s.txDropped]).toEqual([1, 60, 0, 0]);
  });

  it("header in its own descriptor, frame in the next", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(100, 2);
    tx.setDesc(3, put(f, hdr()), 12, N, 5);
    tx.setDesc(5, put(f, fr), 100);
    tx.add(3);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
    expect(tx.usedElem(0)).toEqual({ id: 3, len: 0 });
    expect(f.dev.stats().txGathered).toBe(0); // after the header, the frame sits in one descriptor
  });

  it("multi-segment frame: gathered into the queue's scratch area", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(300, 3);
    tx.setDesc(0, put(f, hdr()), 12, N, 1);
    tx.setDesc(1, put(f, fr.subarray(0, 100)), 100, N, 2);
    tx.setDesc(2, put(f, fr.subarray(100, 101)), 1, N, 7);
    tx.setDesc(7, put(f, fr.subarray(101)), 199);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
    expect(f.dev.stats().txGathered).toBe(1);
  });

  it("header straddling descriptors, and header sharing a descriptor with the frame's start (ANY_LAYOUT)", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(80, 4);
    const h = hdr();
    tx.setDesc(0, put(f, h.subarray(0, 4)), 4, N, 1);
    tx.setDesc(1, put(f, concat(h.subarray(4), fr.subarray(0, 10))), 18, N, 2);
    tx.setDesc(2, put(f, fr.subarray(10)), 70);
    tx.add(0);
    const fr2 = frame(64, 5);
    tx.setDesc(3, put(f, h.subarray(0, 7)), 7, N, 4);
    tx.setDesc(4, put(f, concat(h.subarray(7), fr2)), 5 + 64);
    tx.add(3);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr, fr2]);
    expect(f.dev.stats().txGathered).toBe(1);
  });

  it("indirect table: header and segments in one ring slot", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(200, 6);
    const t = table(f, [
      [put(f, hdr()), 12, N, 1],
      [put(f, fr.subarray(0, 150)), 150, N, 2],
      [put(f, fr.subarray(150)), 50, 0, 0],
    ]);
    tx.setDesc(2, t, 48, I | W); // WRITE on the pointer is ignored (§2.7.5.3.2)
    tx.add(2);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
    expect(tx.usedElem(0)).toEqual({ id: 2, len: 0 });
  });

  it("a normal chain followed by a single indirect descriptor", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(90, 7);
    const t = table(f, [[put(f, fr), 90, 0, 0]]);
    tx.setDesc(0, put(f, hdr()), 12, N, 1);
    tx.setDesc(1, t, 16, I);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
  });

  it("ignores device-writable descriptors after the readable ones", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    const fr = frame(60, 8);
    const status = f.arena.alloc(16);
    tx.setDesc(0, put(f, concat(hdr(), fr)), 72, N, 1);
    tx.setDesc(1, status, 16, W);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
    expect(tx.usedElem(0)).toEqual({ id: 0, len: 0 });
  });

  it("strips the 10-byte legacy header without VERSION_1 and MRG_RXBUF", () => {
    const f = deviceFixture({ features: v.features(v.VIRTIO_NET_F_MAC) });
    const tx = f.rings[1]!;
    const fr = frame(60, 9);
    tx.setDesc(0, put(f, concat(hdr(10), fr)), 70);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([fr]);
  });

  it("takes at most `burst` chains per pass and publishes used.idx once per batch", () => {
    const f = deviceFixture({ queueSize: 64, device: { burst: 16 }, features: NOT_IN_ORDER });
    const tx = f.rings[1]!;
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const fr = frame(60 + i, i);
      frames.push(fr);
      tx.setDesc(i, put(f, concat(hdr(), fr)), 72 + i);
      tx.add(i);
    }
    tx.publish();
    f.pass();
    expect(tx.usedIdx()).toBe(16);
    f.pass();
    expect(tx.usedIdx()).toBe(32);
    f.pass();
    expect(tx.usedIdx()).toBe(40);
    expect(f.wire().frames).toEqual(frames);
    for (let i = 0; i < 40; i++) expect(tx.usedElem(i)).toEqual({ id: i, len: 0 });
  });

  it("IN_ORDER: one used entry per batch, carrying the last buffer's id", () => {
    const f = deviceFixture({ queueSize: 16 });
    const tx = f.rings[1]!;
    const sentinel = { id: 0xdead, len: 0xbeef };
    for (let i = 0; i < 16; i++) {
      const e = (tx.used + 4 + 8 * i) >>> 2;
      f.mem.u32[e] = sentinel.id;
      f.mem.u32[e + 1] = sentinel.len;
    }
    for (let i = 0; i < 5; i++) {
      tx.setDesc(i, put(f, concat(hdr(), frame(60, i))), 72);
      tx.add(i);
    }
    tx.publish();
    f.pass();
    expect(tx.usedIdx()).toBe(5);
    expect(tx.usedElem(0)).toEqual({ id: 4, len: 0 });
    for (let i = 1; i < 5; i++) expect(tx.usedElem(i)).toEqual(sentinel);
    for (let i = 5; i < 8; i++) {
      tx.setDesc(i, put(f, concat(hdr(), frame(60, i))), 72);
      tx.add(i);
    }
    tx.publish();
    f.pass();
    expect(tx.usedIdx()).toBe(8);
    expect(tx.usedElem(5)).toEqual({ id: 7, len: 0 });
    expect(f.wire().frames).toHaveLength(8);
  });

  it("without IN_ORDER negotiated, one used entry per chain", () => {
    const f = deviceFixture({ features: NOT_IN_ORDER });
    const tx = f.rings[1]!;
    for (let i = 0; i < 3; i++) tx.setDesc(i, put(f, concat(hdr(), frame(60, i))), 72);
    for (const head of [2, 0, 1]) tx.add(head);
    tx.publish();
    f.pass();
    expect([0, 1, 2].map((i) => tx.usedElem(i).id)).toEqual([2, 0, 1]);
    expect(f.wire().frames).toEqual([frame(60, 2), frame(60, 0), frame(60, 1)]);
  });

  it("drops (and returns) transmitted frames while the link is down", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    f.dev.setLinkUp(false);
    const start = performance.now();
    while (f.client.readDeviceCfg(v.NET_CFG_STATUS, 2) !== 0 && performance.now() - start < 1000) f.pass();
    tx.setDesc(0, put(f, concat(hdr(), frame(60))), 72);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(tx.usedIdx()).toBe(1);
    expect(f.wire().frames).toEqual([]);
    expect(f.dev.stats().txDropped).toBe(1);
  });
});

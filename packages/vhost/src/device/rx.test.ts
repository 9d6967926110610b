import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { type Fixture, deviceFixture, frame, writeDescTable } from "@tpdk/testing/vhost";

const W = v.VRING_DESC_F_WRITE;
const N = v.VRING_DESC_F_NEXT;
const I = v.VRING_DESC_F_INDIRECT;
const OFFERED = deviceFixture({ noStart: true }).dev.offered;
const NO_MRG = v.withFeature(OFFERED, v.VIRTIO_NET_F_MRG_RXBUF, false);

/** Post single-descriptor RX buffers of `size` bytes at heads start..start+n-1; returns their addresses. */
function post(f: Fixture, n: number, size: number, start = 0): number[] {
  const rx = f.rings[0]!;
  const addrs: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = f.arena.alloc(size);
    f.mem.u8.fill(0xee, a, a + size);
    rx.setDesc(start + i, a, size, W);
    rx.add(start + i);
    addrs.push(a);
  }
  rx.publish();
  return addrs;
}

function bytes(f: Fixture, a: number, n: number): Uint8Array {
  return f.mem.u8.slice(a, a + n);
}

function numBuffers(f: Fixture, a: number): number {
  return f.mem.u8[a + 10]! | (f.mem.u8[a + 11]! << 8);
}

describe("RX without MRG_RXBUF (§5.1.6.3, §5.1.6.4)", () => {
  it("writes a zeroed 12-byte header with num_buffers 1, then the frame", () => {
    const fr = frame(60, 1);
    const f = deviceFixture({ frames: [fr], features: NO_MRG });
    const [a] = post(f, 1, 2048);
    f.release(1);
    f.pass();
    const rx = f.rings[0]!;
    expect(rx.usedIdx()).toBe(1);
    expect(rx.usedElem(0)).toEqual({ id: 0, len: 72 });
    expect(bytes(f, a!, 10)).toEqual(new Uint8Array(10));
    expect(numBuffers(f, a!)).toBe(1);
    expect(bytes(f, a! + 12, 60)).toEqual(fr);
    const s = f.dev.stats();
    expect([s.rxPackets, s.rxBytes, s.rxMissed]).toEqual([1, 60, 0]);
    expect(f.wire().produced).toBe(1);
  });

  it("uses the 10-byte legacy header without VERSION_1", () => {
    const fr = frame(60, 2);
    const f = deviceFixture({ frames: [fr], features: v.features(v.VIRTIO_NET_F_MAC) });
    const [a] = post(f, 1, 2048);
    f.release(1);
    f.pass();
    expect(f.rings[0]!.usedElem(0)).toEqual({ id: 0, len: 70 });
    expect(bytes(f, a! + 10, 60)).toEqual(fr);
  });

  it("scatters over a chained buffer (header descriptor + data descriptor)", () => {
    const fr = frame(1000, 3);
    const f = deviceFixture({ frames: [fr], features: NO_MRG });
    const rx = f.rings[0]!;
    const h = f.arena.alloc(12);
    const d1 = f.arena.alloc(500);
    const d2 = f.arena.alloc(1500);
    rx.setDesc(4, h, 12, W | N, 6);
    rx.setDesc(6, d1, 500, W | N, 1);
    rx.setDesc(1, d2, 1500, W);
    rx.add(4);
    rx.publish();
    f.release(1);
    f.pass();
    expect(rx.usedElem(0)).toEqual({ id: 4, len: 1012 });
    expect(numBuffers(f, h)).toBe(1);
    expect(bytes(f, d1, 500)).toEqual(fr.subarray(0, 500));
    expect(bytes(f, d2, 500)).toEqual(fr.subarray(500));
  });

  it("writes through an indirect table of writable descriptors", () => {
    const fr = frame(100, 4);
    const f = deviceFixture({ frames: [fr], features: NO_MRG });
    const rx = f.rings[0]!;
    const a = f.arena.alloc(64);
    const b = f.arena.alloc(2048);
    const t = f.arena.alloc(32);
    writeDescTable(f.mem, t, [[a, 20, W | N, 1], [b, 2048, W, 0]]);
    rx.setDesc(0, t, 32, I);
    rx.add(0);
    rx.publish();
    f.release(1);
    f.pass();
    expect(rx.usedElem(0)).toEqual({ id: 0, len: 112 });
    expect(bytes(f, a + 12, 8)).toEqual(fr.subarray(0, 8));
    expect(bytes(f, b, 92)).toEqual(fr.subarray(8));
  });

  it("drops a frame that does not fit the buffer, and keeps the buffer for the next frame", () => {
    const big = frame(1500, 5);
    const small = frame(60, 6);
    const f = deviceFixture({ frames: [big, small], features: NO_MRG });
    const [a] = post(f, 1, 200);
    f.release(2);
    f.pass();
    const rx = f.rings[0]!;
    expect(rx.usedIdx()).toBe(1);
    expect(rx.usedElem(0)).toEqual({ id: 0, len: 72 });
    expect(bytes(f, a! + 12, 60)).toEqual(small);
    const s = f.dev.stats();
    expect([s.rxNoFit, s.rxPackets]).toEqual([1, 1]);
    expect(f.wire().missed).toBe(1);
  });
});

describe("RX fast path: the run of one-descriptor buffers (rx-path.ts)", () => {
  it("a frame that does not fit ends the run: the buffers from it on are put back, the per-frame loop goes on", () => {
    // Frames 0 and 1 go through the run of four buffers taken at once; frame 2
    // (1500 bytes) does not fit: its buffer and the last are put back
    // available, the per-frame loop drops it (NO_FIT, buffer kept) and places
    // frame 3 into that buffer; the fourth buffer stays for the next pass.
    const frs = [frame(60, 1), frame(60, 2), frame(1500, 3), frame(60, 4), frame(60, 5)];
    const f = deviceFixture({ frames: frs, features: NO_MRG });
    const addrs = post(f, 4, 200);
    f.release(4);
    f.pass();
    const rx = f.rings[0]!;
    expect(rx.usedIdx()).toBe(3);
    expect([0, 1, 2].map((i) => rx.usedElem(i))).toEqual([
      { id: 0, len: 72 },
      { id: 1, len: 72 },
      { id: 2, len: 72 },
    ]);
    expect(bytes(f, addrs[0]! + 12, 60)).toEqual(frs[0]);
    expect(bytes(f, addrs[1]! + 12, 60)).toEqual(frs[1]);
    expect(bytes(f, addrs[2]! + 12, 60)).toEqual(frs[3]);
    expect(f.dev.stats()).toMatchObject({ rxPackets: 3, rxNoFit: 1, rxMissed: 0, needsReset: 0 });
    f.release(1);
    f.pass();
    expect(rx.usedIdx()).toBe(4);
    expect(rx.usedElem(3)).toEqual({ id: 3, len: 72 });
    expect(bytes(f, addrs[3]! + 12, 60)).toEqual(frs[4]);
  });

  it("a chained buffer ends the run; the frames after it go on in order", () => {
    const frs = [frame(60, 1), frame(60, 2), frame(60, 3), frame(60, 4)];
    const f = deviceFixture({ frames: frs, features: NO_MRG });
    const rx = f.rings[0]!;
    const a0 = f.arena.alloc(200);
    rx.setDesc(0, a0, 200, W);
    rx.add(0);
    const h = f.arena.alloc(12);
    const d = f.arena.alloc(200);
    rx.setDesc(1, h, 12, W | N, 2);
    rx.setDesc(2, d, 200, W);
    rx.add(1);
    const a3 = f.arena.alloc(200);
    const a4 = f.arena.alloc(200);
    rx.setDesc(3, a3, 200, W);
    rx.add(3);
    rx.setDesc(4, a4, 200, W);
    rx.add(4);
    rx.publish();
    f.release(4);
    f.pass();
    expect(rx.usedIdx()).toBe(4);
    expect([0, 1, 2, 3].map((i) => rx.usedElem(i))).toEqual([
      { id: 0, len: 72 },
      { id: 1, len: 72 },
      { id: 3, len: 72 },
      { id: 4, len: 72 },
    ]);
    expect(bytes(f, a0 + 12, 60)).toEqual(frs[0]);
    expect(bytes(f, d, 60)).toEqual(frs[1]);
    expect(bytes(f, a3 + 12, 60)).toEqual(frs[2]);
    expect(bytes(f, a4 + 12, 60)).toEqual(frs[3]);
  });
});

describe("RX with MRG_RXBUF (§5.1.6.4)", () => {
  it("spreads a frame over as many buffers as it needs and sets num_buffers", () => {
    const fr = frame(1000, 7);
    const f = deviceFixture({ frames: [fr] });
    const addrs = post(f, 6, 256);
    f.release(1);
    f.pass();
    const rx = f.rings[0]!;
    // 12 + 1000 = 1012 bytes = 256 * 3 + 244
    expect(rx.usedIdx()).toBe(4);
    expect([0, 1, 2, 3].map((i) => rx.usedElem(i))).toEqual([
      { id: 0, len: 256 },
      { id: 1, len: 256 },
      { id: 2, len: 256 },
      { id: 3, len: 244 },
    ]);
    expect(numBuffers(f, addrs[0]!)).toBe(4);
    const got = new Uint8Array(1012);
    for (let i = 0; i < 4; i++) got.set(bytes(f, addrs[i]!, i < 3 ? 256 : 244), 256 * i);
    expect(got.subarray(12)).toEqual(fr);
  });

  it("uses one buffer (num_buffers 1) when the frame fits", () => {
    const fr = frame(64, 8);
    const f = deviceFixture({ frames: [fr, fr] });
    const addrs = post(f, 4, 2048);
    f.release(2);
    f.pass();
    const rx = f.rings[0]!;
    expect(rx.usedIdx()).toBe(2);
    expect(rx.usedElem(1)).toEqual({ id: 1, len: 76 });
    expect(numBuffers(f, addrs[1]!)).toBe(1);
  });

  it("a frame that finds too few buffers is missed, and leaves them for later frames", () => {
    const big = frame(1000, 9);
    const small = frame(100, 10);
    const f = deviceFixture({ frames: [big, small] });
    post(f, 2, 256);
    f.release(1);
    f.pass();
    const rx = f.rings[0]!;
    expect(rx.usedIdx()).toBe(0);
    expect(f.dev.stats().rxMissed).toBe(1);
    f.release(1);
    f.pass();
    expect(rx.usedIdx()).toBe(1);
    expect(rx.usedElem(0)).toEqual({ id: 0, len: 112 });
  });

  it("rejects buffers smaller than the header", () => {
    const fr = frame(60, 11);
    const f = deviceFixture({ frames: [fr] });
    const rx = f.rings[0]!;
    rx.setDesc(0, f.arena.alloc(8), 8, W);
    rx.add(0);
    post(f, 1, 2048, 1);
    f.release(1);
    f.pass();
    expect(rx.usedElem(0)).toEqual({ id: 0, len: 0 });
    expect(rx.usedElem(1)).toEqual({ id: 1, len: 72 });
    expect(f.dev.stats().errRxBufferSmall).toBe(1);
  });
});

describe("RX drops and spreading", () => {
  it("counts frames as missed when no buffer is posted; the wire is never blocked", () => {
    const f = deviceFixture({ frames: [frame(60)], repeat: 10 });
    f.release(10);
    f.pass();
    expect(f.dev.stats().rxMissed).toBe(10);
    expect(f.wire()).toMatchObject({ produced: 0, missed: 10, remaining: 0 });
  });

  it("drops frames longer than MTU + 18 when MTU is negotiated", () => {
    const f = deviceFixture({ frames: [frame(119), frame(118)], device: { mtu: 100 } });
    post(f, 2, 2048);
    f.release(2);
    f.pass();
    expect(f.dev.stats().rxOversize).toBe(1);
    expect(f.rings[0]!.usedElem(0).len).toBe(12 + 118);
    const g = deviceFixture({ frames: [frame(119)], device: { mtu: 100 }, features: v.withFeature(OFFERED, v.VIRTIO_NET_F_MTU, false) });
    post(g, 1, 2048);
    g.release(1);
    g.pass();
    expect(g.dev.stats().rxPackets).toBe(1);
  });

  it("takes at most `burst` frames per pass", () => {
    const f = deviceFixture({ frames: [frame(60)], repeat: 20, queueSize: 32, device: { burst: 8 } });
    post(f, 32, 128);
    f.release(20);
    f.pass();
    expect(f.rings[0]!.usedIdx()).toBe(8);
    f.pass(2);
    expect(f.rings[0]!.usedIdx()).toBe(20);
  });

  it("serves only the first pair when MQ is not negotiated", () => {
    const f = deviceFixture({
      frames: [frame(60)],
      repeat: 0,
      device: { queuePairs: 2 },
      features: v.withFeature(OFFERED, v.VIRTIO_NET_F_MQ, false),
    });
    const [rx0, rx1] = [f.rings[0]!, f.rings[2]!];
    for (const rx of [rx0, rx1]) {
      rx.setDesc(0, f.arena.alloc(128), 128, W);
      rx.add(0);
      rx.publish();
    }
    f.release(2);
    f.pass(3);
    expect([rx0.usedIdx(), rx1.usedIdx()]).toEqual([1, 0]);
    const tx1 = f.rings[3]!;
    tx1.setDesc(0, f.arena.alloc(128), 72);
    tx1.add(0);
    tx1.publish();
    f.pass(2);
    expect(tx1.usedIdx()).toBe(0);
  });
});

import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { GuestMemory } from "./guest-memory.js";
import { PackedDeviceQueue } from "./packed-virtqueue.js";
import * as S from "./stats.js";
import { Chain, DeviceQueue } from "./virtqueue.js";

// The device core's queue walk over a region table (the net_vhost case):
// addresses above 4 GiB, two regions of one mapping with a hole between them
// in guest physical space; what lies in one region is translated to its
// offset, what crosses a region's end or lies in none is counted, never read.

const BYTES = 1 << 20;
const G0 = 0x1_0033_8000; // region 0: guest [G0, G0 + 256 KiB) = mapping [0, 256 KiB)
const G1 = 0x2_0000_0000; // region 1: guest [G1, G1 + 512 KiB) = mapping [512 KiB, 1 MiB)
const R0 = 256 << 10;
const R1OFF = 512 << 10;
const R1 = 512 << 10;

function memory() {
  const sab = new SharedArrayBuffer(BYTES);
  const views = { u8: new Uint8Array(sab), u16: new Uint16Array(sab), u32: new Uint32Array(sab) };
  const gm = GuestMemory.regions(views, [{ addr: G0, size: R0, offset: 0 }, { addr: G1, size: R1, offset: R1OFF }]);
  return { views, gm };
}

function putDesc(u32: Uint32Array, u16: Uint16Array, at: number, addr: number, len: number, flags: number, next: number): void {
  u32[at >>> 2] = addr % 0x1_0000_0000;
  u32[(at >>> 2) + 1] = Math.floor(addr / 0x1_0000_0000);
  u32[(at >>> 2) + 2] = len;
  u16[(at + 12) >>> 1] = flags;
  u16[(at + 14) >>> 1] = next;
}

/** A packed descriptor (§2.8.13): address, length, id at 12, flags at 14. */
function putPacked(u32: Uint32Array, u16: Uint16Array, at: number, addr: number, len: number, flags: number, id: number): void {
  putDesc(u32, u16, at, addr, len, id, flags);
}

describe("GuestMemory", () => {
  it("translates inside one region only", () => {
    const { gm } = memory();
    expect(gm.translate(G0, 100)).toBe(0);
    expect(gm.translate(G0 + R0 - 10, 10)).toBe(R0 - 10);
    expect(gm.translate(G0 + R0 - 10, 11)).toBe(-1); // crosses region 0's end
    expect(gm.translate(G1 + 4096, 64)).toBe(R1OFF + 4096);
    expect(gm.translate(G1 - 1, 2)).toBe(-1);
    expect(gm.translate(0x1000, 10)).toBe(-1);
    expect(gm.translate(G1 + R1, 0)).toBe(-1); // len 0 still needs its address inside
    expect(gm.below4G).toBe(false);
  });

  it("identity: the built-in transport's one region, below 4 GiB", () => {
    const sab = new SharedArrayBuffer(4096);
    const gm = GuestMemory.identity({ u8: new Uint8Array(sab), u16: new Uint16Array(sab), u32: new Uint32Array(sab) }, 1024, 4096);
    expect(gm.translate(1024, 16)).toBe(1024);
    expect(gm.translate(1000, 16)).toBe(-1);
    expect(gm.below4G).toBe(true);
  });

  it("refuses a region outside the mapping or more than 8", () => {
    const { views } = memory();
    expect(() => GuestMemory.regions(views, [{ addr: 0, size: BYTES + 1, offset: 0 }])).toThrow(/outside the mapping/);
    expect(() => GuestMemory.regions(views, Array.from({ length: 9 }, (_, i) => ({ addr: i * 4096, size: 4096, offset: i * 4096 })))).toThrow(/at most 8/);
  });
});

describe("split queue walk through a region table", () => {
  function queue() {
    const { views, gm } = memory();
    const q = new DeviceQueue(gm, 0, 256);
    q.size = 16;
    // Rings in region 1 (desc at mapping R1OFF, avail +0x1000, used +0x2000).
    q.enableAt(R1OFF, R1OFF + 0x1000, R1OFF + 0x2000);
    q.configure(true, false);
    return { views, q, c: new Chain(64) };
  }

  it("chains over both regions give mapping offsets; simpleBuffer takes region 0 inline", () => {
    const { views, q, c } = queue();
    putDesc(views.u32, views.u16, R1OFF, G0 + 64, 12, v.VRING_DESC_F_NEXT, 1);
    putDesc(views.u32, views.u16, R1OFF + 16, G1 + 8192, 1500, 0, 0);
    expect(q.walk(0, c)).toBe(0);
    expect([c.addr[0], c.len[0], c.addr[1], c.len[1]]).toEqual([64, 12, R1OFF + 8192, 1500]);
    expect(c.readBytes).toBe(1512);
    putDesc(views.u32, views.u16, R1OFF + 32, G0 + 4096, 2048, v.VRING_DESC_F_WRITE, 0);
    expect(q.simpleBuffer(2, true)).toBe(true);
    expect(q.simpleAddr).toBe(4096);
    // Region 1 is not inline: walk() handles it.
    putDesc(views.u32, views.u16, R1OFF + 48, G1, 2048, v.VRING_DESC_F_WRITE, 0);
    expect(q.simpleBuffer(3, true)).toBe(false);
    c.n = 0;
    expect(q.walk(3, c)).toBe(0);
    expect(c.addr[0]).toBe(R1OFF);
  });

  it("a buffer crossing a region's end, in the hole, or below every region is ADDR_RANGE; nothing appended", () => {
    const { views, q, c } = queue();
    for (const [addr, len] of [[G0 + R0 - 8, 16], [G0 + R0 + 4096, 8], [0x1000, 8], [G1 + R1 - 1, 2]] as const) {
      putDesc(views.u32, views.u16, R1OFF, addr, len, 0, 0);
      c.n = 0;
      expect(q.walk(0, c)).toBe(S.S_ERR_ADDR_RANGE);
      expect(c.n).toBe(0);
      expect(q.simpleBuffer(0, false)).toBe(false);
    }
  });

  it("an indirect table in region 1 is read there; one crossing the end is refused", () => {
    const { views, q, c } = queue();
    const t = R1OFF + 0x4000;
    putDesc(views.u32, views.u16, t, G0 + 128, 60, 0, 0);
    putDesc(views.u32, views.u16, R1OFF, G1 + 0x4000, 16, v.VRING_DESC_F_INDIRECT, 0);
    expect(q.walk(0, c)).toBe(0);
    expect([c.n, c.addr[0], c.len[0]]).toEqual([1, 128, 60]);
    putDesc(views.u32, views.u16, R1OFF, G1 + R1 - 16, 32, v.VRING_DESC_F_INDIRECT, 0);
    c.n = 0;
    expect(q.walk(0, c)).toBe(S.S_ERR_ADDR_RANGE);
  });

  it("resume() continues at a base and at the used index the ring holds", () => {
    const { views, q } = queue();
    views.u16[(R1OFF + 0x2000 + 2) >>> 1] = 700;
    q.resume(705);
    expect(q.lastAvail).toBe(705);
    expect(q.usedIdx).toBe(700);
  });
});

describe("packed queue walk through a region table", () => {
  it("translates list and indirect buffers; outside every region is ADDR_RANGE", () => {
    const { views, gm } = memory();
    const regs = new DeviceQueue(gm, 0, 256);
    const q = new PackedDeviceQueue(regs);
    const ring = R1OFF + 0x8000;
    q.enableAt(8, ring, ring + 0x1000, ring + 0x1004);
    q.configure(true, false);
    const avail = v.packedAvailFlags(1);
    putPacked(views.u32, views.u16, ring, G1 + 256, 40, v.VRING_DESC_F_NEXT | avail, 0);
    putPacked(views.u32, views.u16, ring + 16, G0, 20, avail, 7);
    const c = new Chain(64);
    expect(q.walk(c)).toBe(0);
    expect([c.n, c.addr[0], c.addr[1], q.chainId, q.chainDescs]).toEqual([2, R1OFF + 256, 0, 7, 2]);
    q.take(2);
    // Indirect table in region 0 pointing at region 1.
    putDesc(views.u32, views.u16, 0x3000, G1 + 64, 100, 0, 0);
    putPacked(views.u32, views.u16, ring + 32, G0 + 0x3000, 16, v.VRING_DESC_F_INDIRECT | avail, 3);
    c.n = 0;
    expect(q.walk(c)).toBe(0);
    expect([c.n, c.addr[0], c.len[0]]).toEqual([1, R1OFF + 64, 100]);
    q.take(1);
    putPacked(views.u32, views.u16, ring + 48, G0 + R0 - 4, 8, avail, 4);
    c.n = 0;
    expect(q.walk(c)).toBe(S.S_ERR_ADDR_RANGE);
    expect(q.simpleBuffer(false)).toBe(false);
  });
});

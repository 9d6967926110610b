import { afterEach, describe, expect, it } from "vitest";
import { LCORE_ID_ANY, Memory, TpdkError, setLcoreId } from "@tpdk/eal";
import { Mempool, spreadEltSize } from "./mempool.js";
import { Mbufs } from "./mbufs.js";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof TpdkError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "no error";
}

afterEach(() => setLcoreId(LCORE_ID_ANY));

describe("Mempool create / lookup", () => {
  const mem = Memory.create(64 << 20);

  it("defaults follow DPDK: cache 256, data room 2048 + 128, 64-byte aligned headers", () => {
    const p = Mempool.create(mem, "dflt", { n: 1024 });
    expect([p.size, p.cacheSize, p.dataRoomSize, p.eltSize, p.name, p.debug]).toEqual([1024, 256, 2176, 2240, "dflt", false]);
    expect(p.id).toBeGreaterThan(0);
    expect(p.available()).toBe(1024);
    expect(p.inUse()).toBe(0);
    expect(p.firstMbuf % 64).toBe(0);
    expect(mem.lookup("MP_dflt")?.offset).toBe(p.offset);
  });

  it("lookup and attachById see the same pool", () => {
    const p = Mempool.create(mem, "look", { n: 64, cacheSize: 8 });
    for (const q of [Mempool.lookup(mem, "look"), Mempool.attachById(mem, p.id)]) {
      expect([q.id, q.name, q.size, q.cacheSize, q.firstMbuf, q.offset]).toEqual([p.id, "look", 64, 8, p.firstMbuf, p.offset]);
    }
    const p2 = Mempool.create(mem, "look2", { n: 8, cacheSize: 0 });
    expect(p2.id).toBe(p.id + 1);
    expect(code(() => Mempool.lookup(mem, "nope"))).toMatch(/^ENOENT/);
    expect(code(() => Mempool.attachById(mem, 200))).toMatch(/^ENOENT/);
    expect(code(() => Mempool.create(mem, "look", { n: 8, cacheSize: 0 }))).toMatch(/^EEXIST/);
  });

  it("validates options with messages naming the option", () => {
    expect(code(() => Mempool.create(mem, "v", { n: 0 }))).toMatch(/^EINVAL.*option n/);
    expect(code(() => Mempool.create(mem, "v", { n: 1.5 }))).toMatch(/^EINVAL.*option n/);
    expect(code(() => Mempool.create(mem, "v", { n: 4096, cacheSize: 513 }))).toMatch(/^EINVAL.*option cacheSize/);
    expect(code(() => Mempool.create(mem, "v", { n: 4096, cacheSize: -1 }))).toMatch(/^EINVAL.*option cacheSize/);
    expect(code(() => Mempool.create(mem, "v", { n: 100, cacheSize: 100 }))).toMatch(/^EINVAL.*option cacheSize.*n = 100/);
    expect(code(() => Mempool.create(mem, "v", { n: 8, cacheSize: 0, dataRoomSize: 65536 }))).toMatch(/^EINVAL.*option dataRoomSize/);
    expect(code(() => Mempool.create(mem, "v", { n: 8, cacheSize: 0, debug: 1 as unknown as boolean }))).toMatch(/^EINVAL.*option debug/);
    expect(code(() => Mempool.create(mem, "x".repeat(45), { n: 8, cacheSize: 0 }))).toMatch(/^EINVAL.*name/);
    expect(code(() => Mempool.create(mem, "huge", { n: 1 << 20, cacheSize: 0 }))).toMatch(/^ENOMEM/);
    // Nothing was reserved by the failed attempts.
    expect(mem.lookup("MP_v")).toBeUndefined();
  });
});

describe("alloc / free (no cache: LCORE_ID_ANY)", () => {
  const mem = Memory.create(32 << 20);
  const mb = new Mbufs(mem);

  it("hands out every mbuf exactly once, reset, then reports empty", () => {
    const p = Mempool.create(mem, "all", { n: 100, cacheSize: 16 });
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const m = p.alloc();
      expect(m).not.toBe(0);
      expect(m % 64).toBe(0);
      expect(p.indexOf(m)).toBeGreaterThanOrEqual(0);
      seen.add(m);
      expect(mb.bufAddr(m)).toBe(m + 64);
      expect(mb.bufLen(m)).toBe(2176);
      expect(mb.dataOff(m)).toBe(128);
      expect(mb.dataAddr(m)).toBe(m + 64 + 128);
      expect([mb.refcnt(m), mb.nbSegs(m), mb.next(m), mb.dataLen(m), mb.pktLen(m), mb.port(m), mb.olFlags(m), mb.poolId(m)]).toEqual([1, 1, 0, 0, 0, 0xffff, 0, p.id]);
      expect(mem.u32[(m + 4) >>> 2]).toBe(0); // buf_addr high half
    }
    expect(seen.size).toBe(100);
    expect(p.alloc()).toBe(0);
    expect(p.available()).toBe(0);
    expect(p.inUse()).toBe(100);
    for (const m of seen) mb.free(m);
    expect(p.available()).toBe(100);
  });

  it("alloc resets fields dirtied by the previous owner; raw get does not", () => {
    const p = Mempool.create(mem, "dirty", { n: 1, cacheSize: 0 });
    const m = p.alloc();
    mb.setDataOff(m, 10);
    mb.setDataLen(m, 60);
    mb.setPktLen(m, 60);
    mb.setPort(m, 3);
    mb.setOlFlags(m, 0x80000001);
    mb.setNbSegs(m, 7);
    p.put(m);
    expect(p.get()).toBe(m);
    expect([mb.dataOff(m), mb.dataLen(m), mb.port(m), mb.olFlags(m), mb.nbSegs(m)]).toEqual([10, 60, 3, 0x80000001, 7]);
    p.put(m);
    expect(p.alloc()).toBe(m);
    expect([mb.dataOff(m), mb.dataLen(m), mb.pktLen(m), mb.port(m), mb.olFlags(m), mb.nbSegs(m), mb.refcnt(m)]).toEqual([128, 0, 0, 0xffff, 0, 1, 1]);
  });

  it("elements are an odd number of cache lines (spread over the cache sets, as DPDK's mempool pads them); buf_len stays the data room", () => {
    // 64 + 2112 = 2176 bytes = 34 lines: padded to 35. The default (64 + 2176 = 35 lines) is not.
    const p = Mempool.create(mem, "even", { n: 4, cacheSize: 0, dataRoomSize: 2112 });
    expect(p.eltSize).toBe(35 * 64);
    const a = p.alloc();
    const b = p.alloc();
    expect(Math.abs(b - a)).toBe(35 * 64);
    expect([mb.bufLen(a), mb.tailroom(a)]).toEqual([2112, 2112 - 128]);
    expect([spreadEltSize(64 + 2176), spreadEltSize(64 + 2112), spreadEltSize(64 + 100), spreadEltSize(64), spreadEltSize(0)]).toEqual([35 * 64, 35 * 64, 3 * 64, 64, 64]);
  });

  it("small data rooms get headroom = buf_len", () => {
    const p = Mempool.create(mem, "small", { n: 4, cacheSize: 0, dataRoomSize: 100 });
    expect(p.eltSize).toBe(192);
    const m = p.alloc();
    expect([mb.bufLen(m), mb.dataOff(m), mb.headroom(m), mb.tailroom(m)]).toEqual([100, 100, 100, 0]);
    const z = Mempool.create(mem, "zero", { n: 2, cacheSize: 0, dataRoomSize: 0 });
    const m0 = z.alloc();
    expect([mb.bufLen(m0), mb.dataOff(m0), z.eltSize]).toEqual([0, 0, 64]);
  });

  it("allocBulk and getBulk are all-or-nothing; putBulk returns them", () => {
    const p = Mempool.create(mem, "bulk", { n: 10, cacheSize: 0 });
    const a = new Uint32Array(16);
    expect(p.allocBulk(a, 11)).toBe(0);
    expect(p.available()).toBe(10);
    expect(p.allocBulk(a, 6, 2)).toBe(6);
    expect(a[0]).toBe(0);
    expect(a[8]).toBe(0);
    for (let i = 2; i < 8; i++) expect(mb.refcnt(a[i]!)).toBe(1);
    expect(p.getBulk(a, 5, 8)).toBe(0);
    expect(p.getBulk(a, 4, 8)).toBe(4);
    expect(p.available()).toBe(0);
    expect(new Set(a.subarray(2, 12)).size).toBe(10);
    p.putBulk(a, 10, 2);
    expect(p.available()).toBe(10);
    expect(p.allocBulk(a, 0)).toBe(0);
  });

  it("putting more objects than the pool holds throws EOVERFLOW", () => {
    const p = Mempool.create(mem, "ovf", { n: 2, cacheSize: 0 });
    const m = p.get();
    p.put(m);
    expect(code(() => p.put(m))).toMatch(/^EOVERFLOW/);
  });
});

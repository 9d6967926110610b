import { afterEach, describe, expect, it } from "vitest";
import { LCORE_ID_ANY, Memory, setLcoreId } from "@tpdk/eal";
import { Mempool } from "./mempool.js";
import { Mbufs } from "./mbufs.js";
import { flushThreshold } from "./layout.js";

afterEach(() => setLcoreId(LCORE_ID_ANY));

describe("per-lcore cache", () => {
  const mem = Memory.create(32 << 20);
  let seq = 0;
  const pool = (n: number, cacheSize: number) => Mempool.create(mem, `c${seq++}`, { n, cacheSize, dataRoomSize: 64 });

  it("LCORE_ID_ANY bypasses the caches", () => {
    const p = pool(256, 32);
    const m = p.get();
    expect(p.ringCount()).toBe(255);
    for (let l = 0; l < 64; l++) expect(p.cacheCount(l)).toBe(0);
    p.put(m);
    expect(p.ringCount()).toBe(256);
  });

  it("takeCached hands out the cache's top n where they lie, refilling from the ring as getBulk does", () => {
    const p = pool(256, 32);
    setLcoreId(5);
    expect(p.takeCached(0)).toBe(-1);
    expect(p.takeCached(33)).toBe(-1); // above the cache size: getBulk's ring path serves it
    // Empty cache: refill 20 + 32 from the ring, hand out the top 20.
    const w = p.takeCached(20);
    expect(w).toBeGreaterThanOrEqual(0);
    expect(p.cacheCount(5)).toBe(32);
    expect(p.ringCount()).toBe(256 - 52);
    expect(p.available()).toBe(256 - 20);
    const got = Array.from(mem.u32.subarray(w, w + 20));
    expect(new Set(got).size).toBe(20);
    for (const m of got) expect(m).not.toBe(0);
    // They are out of the cache: its 32 are others. Emptying the cache hands those 32 out.
    const rest = new Uint32Array(32);
    expect(p.getBulk(rest, 32)).toBe(32);
    expect(p.cacheCount(5)).toBe(0);
    for (const m of rest) expect(got).not.toContain(m);
    // A non-empty cache: the top n, the objects a getBulk of n would hand out (the last ones put).
    // Puts of 20 and 10 stay under the flush threshold (48), so the cache holds exactly these 30.
    p.putBulk(Uint32Array.from(got), 20);
    p.putBulk(rest, 10);
    expect(p.cacheCount(5)).toBe(30);
    const top = p.takeCached(12);
    expect(p.cacheCount(5)).toBe(18);
    expect(Array.from(mem.u32.subarray(top, top + 12))).toEqual([...got.slice(18), ...rest.slice(0, 10)]);
    // Back: every object in the pool again.
    p.putBulk(mem.u32.slice(top, top + 12), 12);
    p.putBulk(rest, 22, 10);
    expect(p.available()).toBe(256);
  });

  it("takeCached refuses a cache-less thread, a debug pool and a pool with too few objects (-1, nothing taken)", () => {
    const p = pool(64, 32);
    expect(p.takeCached(8)).toBe(-1); // LCORE_ID_ANY: no cache
    setLcoreId(6);
    const d = Mempool.create(mem, `c${seq++}`, { n: 64, cacheSize: 32, dataRoomSize: 64, debug: true });
    expect(d.takeCached(8)).toBe(-1);
    expect(d.available()).toBe(64);
    const all = new Uint32Array(64);
    expect(p.getBulk(all, 32)).toBe(32);
    expect(p.getBulk(all, 30, 32)).toBe(30);
    expect(p.takeCached(3)).toBe(-1); // 2 left
    expect(p.available()).toBe(2);
    expect(p.takeCached(2)).toBeGreaterThanOrEqual(0);
    expect(p.available()).toBe(0);
  });

  it("a get on an empty cache refills request + cacheSize from the ring", () => {
    const p = pool(256, 32);
    setLcoreId(3);
    const m = p.get();
    expect(m).not.toBe(0);
    expect(p.cacheCount(3)).toBe(32);
    expect(p.ringCount()).toBe(256 - 33);
    expect(p.available()).toBe(255);
    expect(p.inUse()).toBe(1);
    const a = new Uint32Array(32);
    expect(p.getBulk(a, 20)).toBe(20); // served from the cache, no ring access
    expect(p.cacheCount(3)).toBe(12);
    expect(p.ringCount()).toBe(256 - 33);
    expect(p.getBulk(a, 30)).toBe(30); // short by 18: refill 18 + 32
    expect(p.cacheCount(3)).toBe(32);
    expect(p.ringCount()).toBe(256 - 33 - 50);
    expect(p.available()).toBe(256 - 51);
  });

  it("the cache is a LIFO: the last object put is the first got", () => {
    const p = pool(256, 32);
    setLcoreId(5);
    const a = p.get();
    const b = p.get();
    p.put(a);
    p.put(b);
    expect(p.get()).toBe(b);
    expect(p.get()).toBe(a);
  });

  it("a put that reaches 1.5 x cacheSize flushes down to cacheSize", () => {
    const p = pool(512, 32);
    expect(flushThreshold(32)).toBe(48);
    setLcoreId(1);
    const held = new Uint32Array(100);
    expect(p.getBulk(held, 32)).toBe(32); // refill 64, cache keeps 32
    expect(p.getBulk(held, 32, 32)).toBe(32); // from the cache: now empty
    expect(p.cacheCount(1)).toBe(0);
    const ring0 = p.ringCount();
    for (let i = 0; i < 47; i++) p.put(held[i]!);
    expect(p.cacheCount(1)).toBe(47); // just below the threshold: nothing flushed
    expect(p.ringCount()).toBe(ring0);
    p.put(held[47]!); // reaches 48: the 16 above cacheSize go to the ring
    expect(p.cacheCount(1)).toBe(32);
    expect(p.ringCount()).toBe(ring0 + 16);
    p.putBulk(held, 16, 48); // 48 again: flush 16
    expect(p.cacheCount(1)).toBe(32);
    expect(p.ringCount()).toBe(ring0 + 32);
    expect(p.available()).toBe(512);
  });

  it("requests bigger than the cache go straight to the ring", () => {
    const p = pool(512, 32);
    setLcoreId(2);
    const a = new Uint32Array(64);
    expect(p.getBulk(a, 33)).toBe(33);
    expect(p.cacheCount(2)).toBe(0);
    expect(p.ringCount()).toBe(512 - 33);
    p.putBulk(a, 33);
    expect(p.cacheCount(2)).toBe(0);
    expect(p.ringCount()).toBe(512);
  });

  it("available() counts every lcore's cache; caches are per lcore", () => {
    const p = pool(512, 32);
    const mb = new Mbufs(mem);
    const held: number[] = [];
    for (const l of [0, 7, 63]) {
      setLcoreId(l);
      held.push(p.alloc());
    }
    expect([p.cacheCount(0), p.cacheCount(7), p.cacheCount(63), p.cacheCount(1)]).toEqual([32, 32, 32, 0]);
    expect(p.available()).toBe(509);
    // A free on lcore 9 goes into lcore 9's cache, whoever allocated the mbuf.
    setLcoreId(9);
    for (const m of held) mb.free(m);
    expect(p.cacheCount(9)).toBe(3);
    expect(p.available()).toBe(512);
    expect(p.inUse()).toBe(0);
  });

  it("a nearly empty pool still serves what the ring plus cache hold", () => {
    const p = pool(40, 16); // flush threshold 24 <= 40
    setLcoreId(4);
    const a = new Uint32Array(40);
    expect(p.getBulk(a, 16)).toBe(16); // refill 32
    expect(p.getBulk(a, 16, 16)).toBe(16); // from the cache
    expect(p.ringCount()).toBe(8);
    // Cache empty, ring 8: refill (8 + 16) fails, the 8 themselves succeed.
    expect(p.getBulk(a, 8, 32)).toBe(8);
    expect(p.available()).toBe(0);
    expect(p.get()).toBe(0);
    expect(new Set(a).size).toBe(40);
    p.putBulk(a, 40); // > cacheSize: to the ring
    expect(p.available()).toBe(40);
  });

  it("cacheSize 0 and 1 work", () => {
    const p0 = pool(8, 0);
    setLcoreId(1);
    const m = p0.get();
    expect(p0.cacheCount(1)).toBe(0);
    p0.put(m);
    expect(p0.ringCount()).toBe(8);
    const p1 = pool(8, 1);
    const x = p1.get();
    expect(p1.cacheCount(1)).toBe(1);
    expect(p1.ringCount()).toBe(6);
    p1.put(x); // 2 >= threshold 1: flushed back down to 1
    expect(p1.cacheCount(1)).toBe(1);
    expect(p1.ringCount()).toBe(7);
    const y = p1.get();
    p1.put(y);
    expect(p1.available()).toBe(8);
  });
});

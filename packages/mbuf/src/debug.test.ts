import { afterEach, describe, expect, it } from "vitest";
import { thrownCode } from "@tpdk/testing/eal";
import { LCORE_ID_ANY, Memory, setLcoreId } from "@tpdk/eal";
import { Mempool } from "./mempool.js";
import { Mbufs } from "./mbufs.js";
import { MBUF_FREE, MBUF_IN_USE } from "./layout.js";

afterEach(() => setLcoreId(LCORE_ID_ANY));

describe.each([
  ["no cache", LCORE_ID_ANY],
  ["lcore cache", 2],
])("debug pools (%s)", (_l, lcore) => {
  const mem = Memory.create(16 << 20);
  const mb = new Mbufs(mem);
  let seq = 0;

  it("track free / in-use and throw EDOUBLEFREE on a second free", () => {
    const p = Mempool.create(mem, `d${seq++}`, { n: 64, cacheSize: 8, debug: true });
    setLcoreId(lcore);
    expect(p.debug).toBe(true);
    const m = p.alloc();
    expect(mb.state(m)).toBe(MBUF_IN_USE);
    mb.free(m);
    expect(mb.state(m)).toBe(MBUF_FREE);
    const avail = p.available();
    expect(thrownCode(() => mb.free(m))).toBe("EDOUBLEFREE");
    expect(thrownCode(() => p.put(m))).toBe("EDOUBLEFREE");
    expect(p.available()).toBe(avail);
  });

  it("a bulk put with one already-free mbuf throws and leaves the others in use", () => {
    const p = Mempool.create(mem, `d${seq++}`, { n: 64, cacheSize: 8, debug: true });
    setLcoreId(lcore);
    const a = new Uint32Array(4);
    expect(p.allocBulk(a, 4)).toBe(4);
    p.put(a[2]!);
    const avail = p.available();
    expect(thrownCode(() => p.putBulk(a, 4))).toBe("EDOUBLEFREE");
    expect(thrownCode(() => mb.freeBulk(a, 4))).toBe("EDOUBLEFREE");
    expect(p.available()).toBe(avail);
    expect([mb.state(a[0]!), mb.state(a[1]!), mb.state(a[3]!)]).toEqual([MBUF_IN_USE, MBUF_IN_USE, MBUF_IN_USE]);
    a[2] = a[3]!;
    p.putBulk(a, 3);
    expect(p.available()).toBe(64);
  });

  it("rejects handles that are not the pool's mbufs", () => {
    const p = Mempool.create(mem, `d${seq++}`, { n: 8, cacheSize: 0, debug: true });
    setLcoreId(lcore);
    const m = p.alloc();
    expect(thrownCode(() => p.put(m + 64))).toBe("EINVAL");
    p.put(m);
  });

  it("without debug a double free is not caught at the free (the pool over-counts or overflows)", () => {
    const p = Mempool.create(mem, `d${seq++}`, { n: 64, cacheSize: 8 });
    setLcoreId(lcore);
    const m = p.alloc();
    mb.free(m);
    if (lcore === LCORE_ID_ANY) {
      // Straight to the ring, which holds exactly n: the extra object does not fit.
      expect(thrownCode(() => mb.free(m))).toBe("EOVERFLOW");
    } else {
      mb.free(m);
      expect(p.available()).toBe(65);
    }
  });
});

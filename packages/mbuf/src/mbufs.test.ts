import { afterEach, describe, expect, it } from "vitest";
import { LCORE_ID_ANY, Memory, TpdkError, setLcoreId } from "@tpdk/eal";
import { Mempool } from "./mempool.js";
import { Mbufs } from "./mbufs.js";

afterEach(() => setLcoreId(LCORE_ID_ANY));

describe("Mbufs data helpers", () => {
  const mem = Memory.create(16 << 20);
  const p = Mempool.create(mem, "data", { n: 64, cacheSize: 0 });
  const mb = new Mbufs(mem);

  it("prepend / append / adj / trim keep data_off, data_len and pkt_len consistent", () => {
    const m = p.alloc();
    const start = mb.dataAddr(m);
    expect([mb.headroom(m), mb.tailroom(m)]).toEqual([128, 2048]);
    const tail = mb.append(m, 60);
    expect(tail).toBe(start);
    mb.u8.fill(0xab, tail, tail + 60);
    expect([mb.dataLen(m), mb.pktLen(m), mb.tailroom(m)]).toEqual([60, 60, 1988]);
    const hdr = mb.prepend(m, 14);
    expect(hdr).toBe(start - 14);
    expect(mb.dataAddr(m)).toBe(hdr);
    expect([mb.dataOff(m), mb.dataLen(m), mb.pktLen(m), mb.headroom(m)]).toEqual([114, 74, 74, 114]);
    expect(mb.u8[hdr + 14]).toBe(0xab);
    expect(mb.prepend(m, 115)).toBe(-1);
    expect(mb.append(m, 1989)).toBe(-1);
    expect([mb.dataOff(m), mb.dataLen(m), mb.pktLen(m)]).toEqual([114, 74, 74]);
    expect(mb.adj(m, 14)).toBe(start);
    expect([mb.dataOff(m), mb.dataLen(m), mb.pktLen(m)]).toEqual([128, 60, 60]);
    expect(mb.adj(m, 61)).toBe(-1);
    expect(mb.trim(m, 10)).toBe(0);
    expect([mb.dataLen(m), mb.pktLen(m)]).toEqual([50, 50]);
    expect(mb.trim(m, 51)).toBe(-1);
    expect(mb.prepend(m, 128)).toBe(mb.bufAddr(m));
    expect(mb.headroom(m)).toBe(0);
    mb.reset(m);
    expect([mb.dataOff(m), mb.dataLen(m), mb.pktLen(m), mb.refcnt(m)]).toEqual([128, 0, 0, 1]);
    mb.free(m);
  });

  it("initSegment leaves a raw object's header byte for byte as allocBulk's reset and the three setters do; too long: -1, as allocBulk's reset alone", () => {
    const raw = new Uint32Array(2);
    const ref = new Uint32Array(2);
    expect(p.allocBulk(ref, 2)).toBe(2);
    expect(p.getBulk(raw, 2)).toBe(2);
    const header = (m: number): number[] => [...mb.u8.subarray(m, m + 64)];
    // The pool is shared with the other cases: its four mbufs go back however this one ends.
    try {
      for (let i = 0; i < 2; i++) {
        const m = raw[i]!;
        // Whatever the previous owner left: every field the reset sets, and refcnt, made wrong.
        mb.setDataOff(m, 3);
        mb.setNbSegs(m, 7);
        mb.setPort(m, 9);
        mb.setOlFlags(m, 0xffffffff);
        mb.u8.fill(0xff, m + 20, m + 24); // ol_flags' high half
        mb.setPktLen(m, 99999);
        mb.setDataLen(m, 77);
        mb.setNext(m, 64 * 5);
        mb.u8[m + 10] = 2; // refcnt 2
        const len = i === 0 ? 60 : 2048;
        const r = ref[i]!;
        mb.setDataLen(r, len);
        mb.setPktLen(r, len);
        mb.setPort(r, 0xfffe);
        expect(mb.initSegment(m, len, 0xfffe)).toBe(mb.dataAddr(r) - r + m);
        // Byte for byte, bytes 8-35 (data_off to next; buf_addr, the pool id and the state byte are each object's own).
        expect(header(m).slice(0, 36)).toEqual([...header(r).slice(0, 36)].map((b, k) => (k < 8 ? header(m)[k]! : b)));
        expect(mb.dataAddr(m)).toBe(mb.bufAddr(m) + 128);
      }
      // One byte over the room after the headroom (2048): -1 and the header as allocBulk's reset
      // leaves it (refcnt 1, no data), whatever was there.
      const reset = p.alloc();
      try {
        mb.setDataLen(raw[0]!, 77);
        mb.u8[raw[0]! + 10] = 2; // refcnt 2
        expect(mb.initSegment(raw[0]!, 2049, 1)).toBe(-1);
        expect(header(raw[0]!).slice(8, 36)).toEqual(header(reset).slice(8, 36));
      } finally {
        mb.free(reset);
      }
    } finally {
      // Reset first: a failed case may leave the wrong refcnt and next made above.
      for (const m of raw) {
        mb.reset(m);
        mb.setRefcnt(m, 1);
      }
      mb.freeBulk(raw, 2);
      mb.freeBulk(ref, 2);
    }
    expect(p.available()).toBe(64);
  });

  it("field setters round-trip; refcntUpdate is atomic add returning the new value", () => {
    const m = p.alloc();
    mb.setPort(m, 3);
    mb.setOlFlags(m, 0xdeadbeef);
    mb.setNbSegs(m, 2);
    mb.setNext(m, 12345 * 64);
    mb.setPktLen(m, 70000);
    expect([mb.port(m), mb.olFlags(m), mb.nbSegs(m), mb.next(m), mb.pktLen(m)]).toEqual([3, 0xdeadbeef, 2, 12345 * 64, 70000]);
    mb.setNext(m, 0);
    mb.setNbSegs(m, 1);
    expect(mb.refcntUpdate(m, 2)).toBe(3);
    expect(mb.refcntUpdate(m, -1)).toBe(2);
    mb.setRefcnt(m, 1);
    expect(mb.refcnt(m)).toBe(1);
    expect(mb.poolId(m)).toBe(p.id);
    mb.free(m);
    expect(p.available()).toBe(64);
  });

  it("chain links segments; append goes to the last one; free returns every segment", () => {
    const a = p.alloc();
    const b = p.alloc();
    const c = p.alloc();
    mb.append(a, 100);
    mb.append(b, 200);
    mb.append(c, 300);
    expect(mb.chain(b, c)).toBe(0);
    expect([mb.nbSegs(b), mb.pktLen(b), mb.pktLen(c)]).toEqual([2, 500, 300]);
    expect(mb.chain(a, b)).toBe(0);
    expect([mb.nbSegs(a), mb.pktLen(a), mb.next(a), mb.next(b), mb.next(c), mb.lastSeg(a)]).toEqual([3, 600, b, c, 0, c]);
    expect(mb.pktLen(b)).toBe(200);
    const at = mb.append(a, 5);
    expect(at).toBe(mb.dataAddr(c) + 300);
    expect([mb.dataLen(c), mb.pktLen(a)]).toEqual([305, 605]);
    expect(mb.trim(a, 305)).toBe(0);
    expect([mb.dataLen(c), mb.pktLen(a)]).toEqual([0, 300]);
    mb.setNbSegs(a, 0xffff);
    const x = p.alloc();
    expect(mb.chain(a, x)).toBe(-1);
    expect(mb.next(c)).toBe(0);
    mb.free(x);
    mb.setNbSegs(a, 3);
    const before = p.available();
    mb.free(a);
    expect(p.available()).toBe(before + 3);
    // Freed segments are unlinked, ready for the next owner.
    expect([mb.next(a), mb.next(b), mb.nbSegs(a)]).toEqual([0, 0, 1]);
  });

  it("refcnt: a shared segment survives until its last reference is freed", () => {
    const a = p.alloc();
    const b = p.alloc();
    mb.chain(a, b);
    mb.refcntUpdate(b, 1); // b is also referenced elsewhere (a clone, in DPDK terms)
    const before = p.available();
    mb.free(a);
    expect(p.available()).toBe(before + 1);
    expect(mb.refcnt(b)).toBe(1);
    expect(mb.next(a)).toBe(0);
    mb.free(b);
    expect(p.available()).toBe(before + 2);
    expect(mb.refcnt(b)).toBe(1); // pool objects keep refcnt 1
  });

  it("freeSeg frees one segment only; free(0) is a no-op", () => {
    const a = p.alloc();
    const b = p.alloc();
    mb.chain(a, b);
    const before = p.available();
    mb.freeSeg(a);
    expect(p.available()).toBe(before + 1);
    expect(mb.next(a)).toBe(0);
    mb.free(0);
    mb.free(b);
    expect(p.available()).toBe(before + 2);
  });

  it("free returns each segment to its own pool, through the calling lcore's cache", () => {
    const q = Mempool.create(mem, "other", { n: 300, cacheSize: 16, dataRoomSize: 256 });
    setLcoreId(6);
    const a = p.alloc();
    const b = q.alloc();
    expect(q.cacheCount(6)).toBe(16);
    mb.chain(a, b);
    mb.free(a);
    expect(p.available()).toBe(64);
    expect(q.cacheCount(6)).toBe(17);
    expect(q.available()).toBe(300);
  });

  it("freeBulk frees chains from several pools in per-pool batches", () => {
    const q = Mempool.lookup(mem, "other");
    const handles = new Uint32Array(200);
    let k = 0;
    for (let i = 0; i < 40; i++) handles[k++] = p.alloc();
    for (let i = 0; i < 150; i++) handles[k++] = q.alloc();
    // Two chains of mixed pools.
    mb.chain(handles[0]!, handles[199 - 10]!);
    handles[189] = 0;
    expect(p.available() + q.available()).toBe(64 - 40 + 300 - 150);
    mb.freeBulk(handles, 200);
    expect(p.available()).toBe(64);
    expect(q.available()).toBe(300);
    expect(q.inUse()).toBe(0);
  });

  it("fastFreeBulk returns mbufs to the named pool without reading or writing them (debug pools still catch a double free)", () => {
    const d = Mempool.create(mem, "fastdbg", { n: 8, cacheSize: 0, debug: true });
    const arr = new Uint32Array(4);
    for (let i = 0; i < 4; i++) arr[i] = d.alloc();
    // A field freeBulk's per-mbuf work would clear (next, here a marker): left as it was, so nothing was touched.
    mem.u32[(arr[1]! + 32) >>> 2] = 0x1234;
    mb.fastFreeBulk(d.id, arr, 3, 1);
    expect(d.available()).toBe(8 - 1);
    expect(mem.u32[(arr[1]! + 32) >>> 2]).toBe(0x1234);
    mem.u32[(arr[1]! + 32) >>> 2] = 0;
    // The same mbufs again: the debug pool refuses (they are free), and keeps them counted once.
    expect(() => mb.fastFreeBulk(d.id, arr, 1, 1)).toThrow(/double free/);
    mb.fastFreeBulk(d.id, arr, 1);
    expect(d.available()).toBe(8);
  });

  it("the first free of a pool id attaches that pool; unknown ids throw ENOENT", () => {
    const fresh = new Mbufs(mem);
    const m = p.alloc();
    fresh.free(m);
    expect(p.available()).toBe(64);
    const bogus = p.alloc();
    mem.u16[(bogus + 36) >>> 1] = 250;
    expect(() => fresh.free(bogus)).toThrow(TpdkError);
    mem.u16[(bogus + 36) >>> 1] = p.id;
    fresh.free(bogus);
    expect(p.available()).toBe(64);
  });
});

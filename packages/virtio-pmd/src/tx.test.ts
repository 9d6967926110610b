import {
  VIRTIO_F_EVENT_IDX,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_USED_F_NO_NOTIFY,
  withFeature,
} from "@tpdk/virtio";
import { describe, expect, it, vi } from "vitest";
import { STAT_PRIMES } from "./queue-base.js";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { ALL_FEATURES, frame, linesBeforeRepeat, recordStoreOrder, rig, toMbuf, type Rig, type RigOptions } from "@tpdk/testing/virtio-pmd";

function xs(r: Rig, name: string): number {
  const x = r.port.xstats().find((s) => s.name === name);
  if (!x) throw new Error(`no xstat ${name}`);
  return x.value;
}

/** Stop the port and check every mbuf is back in the pool. */
function stopAndCheck(r: Rig, drainMs?: number): void {
  r.port.stop(drainMs);
  expect(r.pool.available()).toBe(r.pool.size);
}

function send(r: Rig, m: number): number {
  return r.txq.txBurst(Uint32Array.of(m), 1);
}

describe("TX paths: descriptor shapes", () => {
  it("push: one descriptor over header + frame; the header in the headroom is zeroed", () => {
    const r = rig();
    const f = frame(100, 1);
    const m = toMbuf(r, f);
    const data = r.mbufs.dataAddr(m);
    r.mem.u8.fill(0xee, data - r.hdr, data);
    expect(send(r, m)).toBe(1);
    const [c, ...rest] = r.dev.drainTx(r.txVq);
    expect(rest).toHaveLength(0);
    expect(c!.indirect).toBe(false);
    expect(c!.segs).toEqual([{ addr: data - 12, len: 112, flags: 0, next: c!.segs[0]!.next }]);
    expect(Array.from(r.mem.u8.subarray(data - 12, data))).toEqual(new Array(12).fill(0));
    expect(r.dev.gather(c!, r.hdr)).toEqual(f);
    expect(xs(r, "tx_q0_push_packets")).toBe(1);
    stopAndCheck(r);
  });

  it("chained (tx_mode=chained): the slot's zero header, then one descriptor per segment", () => {
    const r = rig({ pmd: { txMode: "chained" } });
    const f = frame(300, 2);
    for (const segs of [1, 3]) {
      const m = toMbuf(r, f, segs);
      expect(send(r, m)).toBe(1);
      const [c] = r.dev.drainTx(r.txVq);
      expect(c!.indirect).toBe(false);
      expect(c!.ringDescs).toBe(segs + 1);
      expect(c!.segs[0]!.len).toBe(12);
      expect(c!.segs[0]!.flags).toBe(VRING_DESC_F_NEXT);
      expect(Array.from(r.mem.u8.subarray(c!.segs[0]!.addr, c!.segs[0]!.addr + 12))).toEqual(new Array(12).fill(0));
      const segFlags = c!.segs.slice(1).map((s) => s.flags);
      expect(segFlags).toEqual([...new Array(segs - 1).fill(VRING_DESC_F_NEXT), 0]);
      let s = m;
      for (let k = 1; k <= segs; k++, s = r.mbufs.next(s)) {
        expect(c!.segs[k]!.addr).toBe(r.mbufs.dataAddr(s));
        expect(c!.segs[k]!.len).toBe(r.mbufs.dataLen(s));
      }
      expect(r.dev.gather(c!, r.hdr)).toEqual(f);
    }
    expect(xs(r, "tx_q0_chained_packets")).toBe(2);
    expect(xs(r, "tx_q0_push_packets")).toBe(0);
    stopAndCheck(r);
  });

  it("indirect: one ring slot whose table holds the header then the segments (< 8 segments)", () => {
    const r = rig();
    const f = frame(700, 3);
    const m = toMbuf(r, f, 3); // multi-segment: not pushable, indirect in auto mode
    expect(send(r, m)).toBe(1);
    const [c] = r.dev.drainTx(r.txVq);
    expect(c!.indirect).toBe(true);
    expect(c!.ringDescs).toBe(1);
    const ring = r.dev.desc(r.txVq, c!.head);
    expect(ring.flags).toBe(VRING_DESC_F_INDIRECT);
    expect(ring.len).toBe(16 * 4);
    expect(c!.segs).toHaveLength(4);
    expect(c!.segs[0]!.len).toBe(12);
    expect(c!.segs.map((s) => s.flags)).toEqual([VRING_DESC_F_NEXT, VRING_DESC_F_NEXT, VRING_DESC_F_NEXT, 0]);
    expect(r.dev.gather(c!, r.hdr)).toEqual(f);
    expect(xs(r, "tx_q0_indirect_packets")).toBe(1);

    // 8 segments do not fit a table: chained.
    const m8 = toMbuf(r, frame(800, 4), 8);
    expect(send(r, m8)).toBe(1);
    const [c8] = r.dev.drainTx(r.txVq);
    expect(c8!.indirect).toBe(false);
    expect(c8!.ringDescs).toBe(9);
    expect(r.dev.gather(c8!, r.hdr)).toEqual(frame(800, 4));
    stopAndCheck(r);
  });

  it("IN_ORDER push batch of four: quads of mixed sizes, broadcast and multicast, a quad with a refused frame", () => {
    const r = rig({ txDesc: 64 });
    const bc = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    const mc = [0x01, 0x00, 0x5e, 0, 0, 1];
    // 0-11: three quads of one size each (64, 64, 100), 12-15: mixed sizes with a broadcast and a
    // multicast, 16-19: 18 is shared (refcnt 2: not pushed), so that quad is taken frame by frame, 20: alone.
    const frames = [
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => frame(64, i)), ...[8, 9, 10, 11].map((i) => frame(100, i)),
      frame(64, 12), frame(100, 13, bc), frame(300, 14, mc), frame(1500, 15),
      frame(64, 16), frame(64, 17), frame(64, 18), frame(64, 19), frame(200, 20),
    ];
    const arr = Uint32Array.from(frames.map((f) => toMbuf(r, f)));
    const shared = arr[18]!;
    r.mbufs.setRefcnt(shared, 2);
    for (const m of arr) {
      const d = r.mbufs.dataAddr(m);
      r.mem.u8.fill(0xee, d - r.hdr, d);
    }
    expect(r.txq.txBurst(arr, arr.length)).toBe(arr.length);
    const chains = r.dev.drainTx(r.txVq);
    expect(chains.map((c) => c.head)).toEqual(frames.map((_, i) => i));
    expect(chains.map((c) => c.indirect)).toEqual(frames.map((_, i) => i === 18));
    chains.forEach((c, i) => {
      expect(r.dev.gather(c, r.hdr)).toEqual(frames[i]);
      if (i === 18) return;
      const d = r.mbufs.dataAddr(arr[i]!);
      expect(c.segs).toEqual([{ addr: d - 12, len: frames[i]!.length + 12, flags: 0, next: c.segs[0]!.next }]);
      expect(Array.from(r.mem.u8.subarray(d - 12, d))).toEqual(new Array(12).fill(0));
    });
    expect(xs(r, "tx_q0_push_packets")).toBe(20);
    expect(xs(r, "tx_q0_indirect_packets")).toBe(1);
    expect(xs(r, "tx_q0_good_packets")).toBe(21);
    expect(xs(r, "tx_q0_good_bytes")).toBe(frames.reduce((a, f) => a + f.length, 0));
    expect(xs(r, "tx_q0_size_64_packets")).toBe(13);
    expect(xs(r, "tx_q0_size_65_127_packets")).toBe(5);
    expect(xs(r, "tx_q0_size_128_255_packets")).toBe(1);
    expect(xs(r, "tx_q0_size_256_511_packets")).toBe(1);
    expect(xs(r, "tx_q0_size_1024_1518_packets")).toBe(1);
    expect(xs(r, "tx_q0_broadcast_packets")).toBe(1);
    expect(xs(r, "tx_q0_multicast_packets")).toBe(1);
    r.txq.cleanup();
    expect(r.txq.inFlight).toBe(0);
    expect(r.mbufs.refcnt(shared)).toBe(1);
    r.mbufs.free(shared);
    stopAndCheck(r);
  });

  it("DPDK's per-packet rules: refcnt > 1 or too little headroom is not pushed", () => {
    const r = rig();
    const shared = toMbuf(r, frame(80, 5));
    r.mbufs.setRefcnt(shared, 2);
    expect(send(r, shared)).toBe(1);
    const thin = toMbuf(r, frame(80, 6));
    r.mbufs.setDataOff(thin, 4);
    r.mem.u8.set(frame(80, 6), r.mbufs.dataAddr(thin));
    expect(send(r, thin)).toBe(1);
    const chains = r.dev.drainTx(r.txVq);
    expect(chains.map((c) => c.indirect)).toEqual([true, true]);
    expect(r.dev.gather(chains[1]!, r.hdr)).toEqual(frame(80, 6));
    expect(xs(r, "tx_q0_push_packets")).toBe(0);
    r.txq.cleanup(); // driver drops its reference to `shared`
    expect(r.mbufs.refcnt(shared)).toBe(1);
    r.mbufs.free(shared);
    stopAndCheck(r);
  });

  it("forced modes: push falls back to chained, never indirect; indirect=0 means chained", () => {
    const r = rig({ pmd: { txMode: "push" } });
    expect(send(r, toMbuf(r, frame(90, 7), 2))).toBe(1);
    expect(send(r, toMbuf(r, frame(90, 8)))).toBe(1);
    const [a, b] = r.dev.drainTx(r.txVq);
    expect([a!.indirect, a!.ringDescs, b!.ringDescs, b!.segs.length]).toEqual([false, 3, 1, 1]);
    stopAndCheck(r);

    const r2 = rig({ pmd: { txMode: "indirect" } });
    expect(send(r2, toMbuf(r2, frame(90, 9)))).toBe(1);
    expect(r2.dev.drainTx(r2.txVq)[0]!.indirect).toBe(true);
    stopAndCheck(r2);

    const r3 = rig({ pmd: { indirect: false } });
    expect(send(r3, toMbuf(r3, frame(90, 10), 2))).toBe(1);
    const [c3] = r3.dev.drainTx(r3.txVq);
    expect([c3!.indirect, c3!.ringDescs]).toEqual([false, 3]);
    stopAndCheck(r3);
  });
});

describe("TX ring management", () => {
  it("returns k < n when the ring is full; the caller keeps the rest; reclaim frees mbufs", () => {
    const r = rig({ txDesc: 64 });
    const arr = new Uint32Array(80);
    for (let i = 0; i < 80; i++) arr[i] = toMbuf(r, frame(64, i));
    let sent = 0;
    while (sent < 80) {
      const k = r.txq.txBurst(arr, Math.min(32, 80 - sent), sent);
      if (k === 0) break;
      sent += k;
    }
    expect(sent).toBe(64);
    expect(xs(r, "tx_q0_ring_full")).toBeGreaterThan(0);
    const inUseBefore = r.pool.inUse();
    const chains = r.dev.drainTx(r.txVq);
    expect(chains).toHaveLength(64);
    chains.forEach((c, i) => expect(r.dev.gather(c, r.hdr)).toEqual(frame(64, i)));
    expect(r.txq.txBurst(arr, 16, 64)).toBe(16); // reclaimed first, then sent
    expect(r.pool.inUse()).toBe(inUseBefore - 64);
    expect(r.port.stats()).toMatchObject({ opackets: 80, obytes: 80 * 64, oerrors: 0 });
    // 16 still outstanding: stop waits briefly for the device, then frees them anyway.
    stopAndCheck(r, 20);
  });

  it("broadcast, multicast and ring_full still count once the rare-counter branch is no longer primed", () => {
    const r = rig({ txDesc: 64 });
    // 100 one-frame bursts the device consumes: past the 64 primed bursts.
    for (let i = 0; i < 100; i++) {
      expect(send(r, toMbuf(r, frame(64, i)))).toBe(1);
      r.dev.drainTx(r.txVq);
    }
    expect(xs(r, "tx_q0_broadcast_packets") + xs(r, "tx_q0_multicast_packets") + xs(r, "tx_q0_ring_full")).toBe(0);
    expect(send(r, toMbuf(r, frame(70, 1, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])))).toBe(1);
    expect(send(r, toMbuf(r, frame(70, 2, [0x01, 0x00, 0x5e, 0, 0, 1])))).toBe(1);
    expect(xs(r, "tx_q0_broadcast_packets")).toBe(1);
    expect(xs(r, "tx_q0_multicast_packets")).toBe(1);
    // Fill the ring: the burst that fills it short and the one that finds it full each count ring_full.
    const arr = new Uint32Array(80);
    for (let i = 0; i < 80; i++) arr[i] = toMbuf(r, frame(64, i));
    let sent = 0;
    for (let k = 1; k !== 0 && sent < 80; sent += k) k = r.txq.txBurst(arr, Math.min(32, 80 - sent), sent);
    expect(sent).toBe(62);
    expect(xs(r, "tx_q0_ring_full")).toBe(2);
    for (let i = 62; i < 80; i++) r.mbufs.free(arr[i]!);
    r.dev.drainTx(r.txVq);
    stopAndCheck(r, 20);
  });

  it("reclaims only below tx_free_thresh", () => {
    const r = rig({ txDesc: 64, txFreeThresh: 16 });
    for (let i = 0; i < 40; i++) expect(send(r, toMbuf(r, frame(64, i)))).toBe(1);
    r.dev.drainTx(r.txVq); // all used, nothing reclaimed yet: 24 free >= 16
    const held = r.pool.inUse();
    expect(send(r, toMbuf(r, frame(64, 99)))).toBe(1);
    expect(r.pool.inUse()).toBe(held + 1);
    for (let i = 0; i < 8; i++) send(r, toMbuf(r, frame(64, i))); // 15 free now: next burst reclaims
    const before = r.pool.inUse();
    send(r, toMbuf(r, frame(64, 100)));
    expect(r.pool.inUse()).toBe(before + 1 - 40);
    r.dev.drainTx(r.txVq);
    stopAndCheck(r);
  });

  it("IN_ORDER: descriptor i in ring slot i, avail ring written once; one used entry may cover a batch", () => {
    const r = rig({ txDesc: 64 });
    expect(r.info.features).toContain("IN_ORDER");
    const q = r.dev.queues[r.txVq]!;
    const ringBefore = Array.from(r.mem.u16.subarray((q.avail + 4) >>> 1, ((q.avail + 4) >>> 1) + 64));
    expect(ringBefore).toEqual(Array.from({ length: 64 }, (_, i) => i));
    const arr = new Uint32Array(10);
    for (let i = 0; i < 10; i++) arr[i] = toMbuf(r, frame(64, i));
    expect(r.txq.txBurst(arr, 10)).toBe(10);
    const heads: number[] = [];
    for (let h = r.dev.popAvail(r.txVq); h >= 0; h = r.dev.popAvail(r.txVq)) heads.push(h);
    expect(heads).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // One used element for the batch (id of the last), used.idx advanced by 10.
    r.dev.pushUsed(r.txVq, 9, 0);
    r.dev.publishUsed(r.txVq, 10);
    const inUse = r.pool.inUse();
    expect(r.txq.cleanup()).toBe(64);
    expect(r.pool.inUse()).toBe(inUse - 10);
    // The avail ring was never rewritten: only avail.idx moved.
    expect(Array.from(r.mem.u16.subarray((q.avail + 4) >>> 1, ((q.avail + 4) >>> 1) + 64))).toEqual(ringBefore);
    stopAndCheck(r);
  });

  it("IN_ORDER push batch: one store into each descriptor line of the burst (the high address word, 0) before any line's second store", () => {
    // The lines' transfers from the device's CPU overlap instead of each waiting behind the last
    // line's stores (bench/notes/both-rings.md, "Session 20: burst 32 on the AMD host").
    const r = rig({ txDesc: 64 });
    const q = r.dev.queues[r.txVq]!;
    const first = new Uint32Array(6);
    for (let i = 0; i < 6; i++) first[i] = toMbuf(r, frame(64, i));
    expect(r.txq.txBurst(first, 6)).toBe(6);
    // Descriptors 6..23: the rest of line 1, lines 2-5.
    const arr = new Uint32Array(18);
    for (let i = 0; i < 18; i++) arr[i] = toMbuf(r, frame(64 + i, 100 + i));
    const rec = recordStoreOrder(r.txq, q.desc, q.desc + 16 * 64);
    try {
      expect(r.txq.txBurst(arr, 18)).toBe(18);
    } finally {
      rec.restore();
    }
    expect(linesBeforeRepeat(rec.log, q.desc)).toEqual({ lines: 5, firstRepeat: 5 });
    expect(rec.log.slice(0, 5).map((w) => [(w.bytes - q.desc) >> 4, w.value])).toEqual([[6, 0], [8, 0], [12, 0], [16, 0], [20, 0]]);
    const chains = r.dev.drainTx(r.txVq);
    expect(chains).toHaveLength(24);
    chains.slice(6).forEach((c, i) => {
      expect(c.segs).toHaveLength(1);
      expect(c.segs[0]!.len).toBe(12 + 64 + i);
    });
    expect(xs(r, "tx_q0_push_packets")).toBe(24);
    stopAndCheck(r);
  });

  /** Descriptors 0..5 sent, then 18 frames (descriptors 6..23) with every store into memory recorded. */
  function offLineBurst() {
    const r = rig({ txDesc: 64 });
    const q = r.dev.queues[r.txVq]!;
    const first = new Uint32Array(6);
    for (let i = 0; i < 6; i++) first[i] = toMbuf(r, frame(64, i));
    expect(r.txq.txBurst(first, 6)).toBe(6);
    const arr = new Uint32Array(18);
    for (let i = 0; i < 18; i++) arr[i] = toMbuf(r, frame(64, 100 + i));
    const hdrOf = (i: number): number => r.mbufs.dataAddr(arr[i]!) - 12;
    // Headers not zero yet, so every build stores into each (zeroHeader once skipped zero words).
    for (let i = 0; i < 18; i++) r.mem.u8.fill(0xee, hdrOf(i), hdrOf(i) + 12);
    const rec = recordStoreOrder(r.txq, 0, r.mem.u8.length);
    try {
      expect(r.txq.txBurst(arr, 18)).toBe(18);
    } finally {
      rec.restore();
    }
    const chains = r.dev.drainTx(r.txVq);
    expect(chains).toHaveLength(24);
    chains.slice(6).forEach((c, i) => {
      expect(c.segs).toEqual([{ addr: hdrOf(i), len: 12 + 64, flags: 0, next: c.segs[0]!.next }]);
      expect(Array.from(r.mem.u8.subarray(hdrOf(i), hdrOf(i) + 12))).toEqual(new Array(12).fill(0));
    });
    expect(xs(r, "tx_q0_push_packets")).toBe(24);
    stopAndCheck(r);
    return { log: rec.log, desc: q.desc, hdrOf };
  }

  it("IN_ORDER push batch: three stores per descriptor (address, len, flags and next as one word), the high word only by the line touch", () => {
    // As DPDK's in-order push: the high word stays 0 (bench/notes/both-rings.md, "Session 22: burst
    // 32 (split TX, packed stores: dropped)").
    const { log, desc } = offLineBurst();
    const inTable = log.filter((w) => w.bytes >= desc && w.bytes < desc + 16 * 64);
    // The touch's five stores (descriptors 6, 8, 12, 16, 20, byte 4), then three per descriptor 6..23.
    expect(inTable.slice(0, 5).map((w) => [(w.bytes - desc) >> 4, (w.bytes - desc) & 15, w.value])).toEqual([[6, 4, 0], [8, 4, 0], [12, 4, 0], [16, 4, 0], [20, 4, 0]]);
    const after = inTable.slice(5);
    for (let d = 6; d < 24; d++) {
      const offs = after.filter((w) => (w.bytes - desc) >> 4 === d).map((w) => (w.bytes - desc) & 15);
      expect(offs, `descriptor ${d}`).toEqual([0, 8, 12]);
    }
  });

  it("IN_ORDER push batch: after a burst that ended off a line boundary, the next burst's quads start at the next line", () => {
    // Before, a head off the boundary sent the whole burst frame by frame (bench/notes/both-rings.md,
    // "Session 22: burst 32 (split TX, packed stores: dropped)").
    const { log, desc, hdrOf } = offLineBurst();
    const at = (pred: (b: number) => boolean): number => log.findIndex((w) => pred(w.bytes));
    const header = (i: number) => (b: number) => b >= hdrOf(i) && b < hdrOf(i) + 12;
    // Frames 2..5 (descriptors 8..11) are a quad: their four headers zeroed before descriptor 8's address.
    const desc8 = at((b) => b === desc + 16 * 8);
    for (let i = 2; i < 6; i++) expect(at(header(i)), `frame ${i}'s header`).toBeLessThan(desc8);
    // Frames 0 and 1 (descriptors 6, 7) go one by one: frame 1's header after descriptor 6's address.
    expect(at(header(1))).toBeGreaterThan(at((b) => b === desc + 16 * 6));
  });

  it("IN_ORDER TX reclaim, fast free: push-batch frames (one segment, refcnt 1) go back to their pool in bulk, each mbuf untouched", () => {
    const r = rig({ txDesc: 64 });
    const arr = new Uint32Array(8);
    for (let i = 0; i < 8; i++) arr[i] = toMbuf(r, frame(64, i));
    const before = r.pool.available();
    expect(r.txq.txBurst(arr, 8)).toBe(8);
    expect(xs(r, "tx_q0_push_packets")).toBe(8);
    const fast = vi.spyOn(Mbufs.prototype, "fastFreeBulk");
    const slow = vi.spyOn(Mbufs.prototype, "freeBulk");
    try {
      // A marker in a field freeBulk's per-mbuf work would clear (next): the fast free never reads or writes it.
      r.mem.u32[(arr[2]! + 32) >>> 2] = 0x4321;
      // One used entry for the batch (the id of the last), used.idx advanced by 8.
      for (let h = r.dev.popAvail(r.txVq); h >= 0; h = r.dev.popAvail(r.txVq));
      r.dev.pushUsed(r.txVq, 7, 0);
      r.dev.publishUsed(r.txVq, 8);
      r.txq.cleanup();
      expect(r.txq.inFlight).toBe(0);
      expect(r.pool.available()).toBe(before + 8);
      // (A FreeBatcher's first flushes also call each free with a count of 0: nothing freed.)
      expect(fast.mock.calls.filter((c) => c[2] !== 0).map((c) => [c[0], c[2]])).toEqual([[r.pool.id, 8]]);
      expect(slow.mock.calls.filter((c) => c[1] !== 0)).toEqual([]);
      expect(r.mem.u32[(arr[2]! + 32) >>> 2]).toBe(0x4321);
      r.mem.u32[(arr[2]! + 32) >>> 2] = 0;
    } finally {
      fast.mockRestore();
      slow.mockRestore();
    }
    stopAndCheck(r);
  });

  it("IN_ORDER TX reclaim falls back to freeBulk for frames not provably the pool's: shared (refcnt 2), chained, next set; another pool's go to it", () => {
    const r = rig({ txDesc: 64 });
    const other = Mempool.create(r.mem, "split-other", { n: 8, cacheSize: 0, debug: true });
    const arr = new Uint32Array(6);
    const fromPool = (p: Mempool): number => {
      const m = p.alloc();
      r.mbufs.append(m, 64);
      return m;
    };
    arr[0] = fromPool(r.pool);
    const shared = fromPool(r.pool);
    r.mbufs.refcntUpdate(shared, 1); // the caller keeps a reference of its own
    arr[1] = shared;
    arr[2] = fromPool(r.pool);
    r.mbufs.chain(arr[2]!, fromPool(r.pool)); // two segments
    arr[3] = fromPool(other);
    arr[4] = fromPool(r.pool);
    // One segment (nb_segs 1, refcnt 1) but a next link: freeBulk follows it (as rte_pktmbuf_free), so not fast.
    const stray = fromPool(r.pool);
    r.mem.u32[(stray + 32) >>> 2] = r.pool.alloc();
    arr[5] = stray;
    const before = r.pool.available();
    expect(r.txq.txBurst(arr, 6)).toBe(6);
    const fast = vi.spyOn(Mbufs.prototype, "fastFreeBulk");
    const slow = vi.spyOn(Mbufs.prototype, "freeBulk");
    try {
      r.dev.drainTx(r.txVq);
      r.txq.cleanup();
      expect(r.txq.inFlight).toBe(0);
      const fastN = fast.mock.calls.reduce((a, c) => a + (c[2] as number), 0);
      const slowN = slow.mock.calls.reduce((a, c) => a + (c[1] as number), 0);
      // Fast, in ring order: arr[0] (push batch), arr[3] (the other pool: a batch of its own), arr[4] (the
      // general loop's push path); slow: the shared and the chained frames (indirect), the stray-next frame.
      expect(fast.mock.calls.filter((c) => c[2] !== 0).map((c) => [c[0], c[2]])).toEqual([[r.pool.id, 1], [other.id, 1], [r.pool.id, 1]]);
      expect([fastN, slowN]).toEqual([3, 3]);
      // The shared frame lost the ring's reference only: still the caller's, refcnt 1.
      expect(r.mbufs.refcnt(shared)).toBe(1);
      // arr[0], arr[2] and its segment, arr[4], the stray frame and what it linked.
      expect(r.pool.available()).toBe(before + 6);
      expect(other.available()).toBe(8);
    } finally {
      fast.mockRestore();
      slow.mockRestore();
    }
    r.mbufs.free(shared);
    stopAndCheck(r);
  });

  it("IN_ORDER chained packets use consecutive descriptors", () => {
    const r = rig({ txDesc: 64, pmd: { txMode: "chained" } });
    expect(send(r, toMbuf(r, frame(200, 1), 2))).toBe(1);
    expect(send(r, toMbuf(r, frame(200, 2), 1))).toBe(1);
    const [a, b] = r.dev.drainTx(r.txVq);
    expect(a!.head).toBe(0);
    expect(r.dev.desc(r.txVq, 0).next).toBe(1);
    expect(r.dev.desc(r.txVq, 1).next).toBe(2);
    expect(b!.head).toBe(3);
    expect(r.dev.desc(r.txVq, 3).next).toBe(4);
    stopAndCheck(r);
  });
});

describe("TX notifications", () => {
  function kickRig(o: RigOptions) {
    const r = rig(o);
    const kicks = () => r.dev.kicks(r.txVq);
    const one = (i: number) => send(r, toMbuf(r, frame(64, i)));
    return { r, kicks, one };
  }

  it("without EVENT_IDX: kick per burst unless the device set NO_NOTIFY", () => {
    const { r, kicks, one } = kickRig({ pmd: { eventIdx: false } });
    one(1);
    one(2);
    expect(kicks()).toBe(2);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    one(3);
    one(4);
    expect(kicks()).toBe(2);
    r.dev.setUsedFlags(r.txVq, 0);
    const arr = new Uint32Array(5);
    for (let i = 0; i < 5; i++) arr[i] = toMbuf(r, frame(64, i));
    r.txq.txBurst(arr, 5);
    expect(kicks()).toBe(3); // one kick per burst, not per packet
    expect(xs(r, "tx_q0_kicks")).toBe(3);
    r.dev.drainTx(r.txVq);
    stopAndCheck(r);
  });

  it("EVENT_IDX: kick only when avail.idx crosses avail_event (vring_need_event)", () => {
    const { r, kicks, one } = kickRig({});
    expect(r.info.features).toContain("EVENT_IDX");
    // avail_event = 0: the first publish (0 -> 1) crosses it.
    one(1);
    expect(kicks()).toBe(1);
    one(2); // 1 -> 2, event 0: no
    expect(kicks()).toBe(1);
    r.dev.setAvailEvent(r.txVq, 5);
    one(3); // 2 -> 3
    one(4); // 3 -> 4
    expect(kicks()).toBe(1);
    const arr = new Uint32Array(4);
    for (let i = 0; i < 4; i++) arr[i] = toMbuf(r, frame(64, i));
    r.txq.txBurst(arr, 4); // 4 -> 8 crosses 5
    expect(kicks()).toBe(2);
    // NO_NOTIFY is ignored under EVENT_IDX (flags are 0 then): the event index rules.
    r.dev.setAvailEvent(r.txVq, 8);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    one(9); // 8 -> 9 crosses 8
    expect(kicks()).toBe(3);
    r.dev.drainTx(r.txVq);
    stopAndCheck(r);
  });

  it("EVENT_IDX: TX keeps used_event 256 behind the used.idx it loaded (never passed: no used-buffer notification), moved once per 2^14 entries", () => {
    const { r, one } = kickRig({});
    // Left where the reset put it, the device's used.idx would pass it every 2^16 entries.
    expect(r.dev.usedEvent(r.txVq)).toBe(0xffff);
    one(1);
    r.dev.drainTx(r.txVq);
    r.txq.cleanup();
    expect(r.dev.usedEvent(r.txVq)).toBe((1 - 0x100) & 0xffff);
    // While statPrimes lasts (the first STAT_PRIMES bursts) the next reclaim moves it (the call
    // primed, txq.ts primeTx); after that, not per burst: the next move comes 2^14 entries later.
    const arr = new Uint32Array(32);
    let sent = 1;
    let at = 1;
    let bursts = 1;
    while (bursts <= STAT_PRIMES || sent < at + 0x4000) {
      for (let i = 0; i < 32; i++) arr[i] = toMbuf(r, frame(64, i));
      expect(r.txq.txBurst(arr, 32)).toBe(32);
      sent += 32;
      bursts++;
      r.dev.drainTx(r.txVq);
      r.txq.cleanup();
      if (bursts <= STAT_PRIMES) {
        expect(r.dev.usedEvent(r.txVq)).toBe((sent - 0x100) & 0xffff);
        at = sent;
      } else if (sent < at + 0x4000) expect(r.dev.usedEvent(r.txVq)).toBe((at - 0x100) & 0xffff);
    }
    expect(r.dev.usedEvent(r.txVq)).toBe((sent - 0x100) & 0xffff);
    stopAndCheck(r);
  });

  it("the data path takes no traps", () => {
    const { r, one } = kickRig({ device: { offered: withFeature(ALL_FEATURES, VIRTIO_F_EVENT_IDX, false) } });
    const traps = r.transport.traps;
    for (let i = 0; i < 20; i++) one(i);
    r.dev.drainTx(r.txVq);
    r.txq.cleanup();
    r.rxq.rxBurst(new Uint32Array(64), 64);
    expect(r.transport.traps).toBe(traps);
    stopAndCheck(r);
  });
});

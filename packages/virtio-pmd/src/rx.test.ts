import { PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_WRITE } from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { STAT_PRIMES } from "./queue-base.js";
import { bindThreadMemory, rxBurst, txBurst } from "./registry.js";
import { frame, fromMbuf, linesBeforeRepeat, recordStoreOrder, rig, toMbuf, type Rig } from "@tpdk/testing/virtio-pmd";

function xs(r: Rig, name: string): number {
  const x = r.port.xstats().find((s) => s.name === name);
  if (!x) throw new Error(`no xstat ${name}`);
  return x.value;
}

function deliver(r: Rig, frames: Uint8Array[], mergeable = r.info.features.includes("MRG_RXBUF")): void {
  for (const f of frames) if (!r.dev.deliver(r.rxVq, f, r.hdr, mergeable)) throw new Error("no rx buffer");
  r.dev.publishUsed(r.rxVq);
}

function receive(r: Rig, max = 64): number[] {
  const arr = new Uint32Array(64);
  const n = r.rxq.rxBurst(arr, max);
  return Array.from(arr.subarray(0, n));
}

function freeAll(r: Rig, ms: number[]): void {
  for (const m of ms) r.mbufs.free(m);
}

function stopAndCheck(r: Rig): void {
  r.port.stop();
  expect(r.pool.available()).toBe(r.pool.size);
}

describe("RX", () => {
  it("posts every descriptor at start: addr = buf + headroom - hdr, len = buf_len - headroom + hdr, WRITE", () => {
    const r = rig({ rxDesc: 64 });
    expect(r.dev.availIdx(r.rxVq)).toBe(64);
    expect(r.dev.availFlags(r.rxVq)).toBe(0); // EVENT_IDX: used_event says it, the flags stay 0 (§2.7.7)
    for (let i = 0; i < 64; i++) {
      const d = r.dev.desc(r.rxVq, i);
      expect(d.flags).toBe(VRING_DESC_F_WRITE);
      expect(d.len).toBe(2176 - PKTMBUF_HEADROOM + 12);
      // The header ends exactly at data_off: addr + 12 = buf_addr + headroom, buf_addr = handle + 64.
      const m = d.addr + 12 - PKTMBUF_HEADROOM - 64;
      expect(r.pool.indexOf(m)).toBeGreaterThanOrEqual(0);
      expect(r.mbufs.bufAddr(m) + PKTMBUF_HEADROOM).toBe(d.addr + 12);
    }
    expect(r.pool.inUse()).toBe(64);
    stopAndCheck(r);
  });

  it("non-mergeable: frames land at data_off with no copy, header stripped by arithmetic", () => {
    const r = rig({ pmd: { mrgRxbuf: false } });
    expect(r.hdr).toBe(12); // VERSION_1
    const frames = [frame(60, 1), frame(1514, 2), frame(64, 3)];
    deliver(r, frames);
    const got = receive(r);
    expect(got).toHaveLength(3);
    got.forEach((m, i) => {
      expect(fromMbuf(r, m)).toEqual(frames[i]);
      expect(r.mbufs.dataOff(m)).toBe(PKTMBUF_HEADROOM);
      expect(r.mbufs.nbSegs(m)).toBe(1);
      expect(r.mbufs.pktLen(m)).toBe(frames[i]!.length);
      expect(r.mbufs.port(m)).toBe(0);
      expect(r.mbufs.next(m)).toBe(0);
    });
    expect(r.port.stats()).toMatchObject({ ipackets: 3, ibytes: 60 + 1514 + 64, ierrors: 0 });
    freeAll(r, got);
    stopAndCheck(r);
  });

  it("refills freed slots in bulk and publishes them once", () => {
    const r = rig({ rxDesc: 64 });
    const frames = Array.from({ length: 40 }, (_, i) => frame(100, i));
    deliver(r, frames);
    const got = receive(r, 32);
    expect(got).toHaveLength(32);
    expect(r.dev.availIdx(r.rxVq)).toBe(64 + 32); // refill threshold min(32, Q/4) = 16 reached
    const rest = receive(r);
    expect(rest).toHaveLength(8);
    [...got, ...rest].forEach((m, i) => expect(fromMbuf(r, m)).toEqual(frames[i]));
    freeAll(r, [...got, ...rest]);
    stopAndCheck(r);
  });

  it("a 256-entry ring is refilled only when half of it is free, then all of it at once (session 18, burst 1)", () => {
    const r = rig({ rxDesc: 256 });
    expect(r.dev.availIdx(r.rxVq)).toBe(256);
    const frames = Array.from({ length: 160 }, (_, i) => frame(60, i));
    deliver(r, frames.slice(0, 127));
    const got: number[] = [];
    // One frame per call, as at burst 1: 127 free, nothing posted yet.
    for (let i = 0; i < 127; i++) got.push(...receive(r, 1));
    expect(got).toHaveLength(127);
    expect(r.dev.availIdx(r.rxVq)).toBe(256);
    deliver(r, frames.slice(127));
    got.push(...receive(r, 1)); // the 128th free descriptor: all 128 posted in one publish
    expect(r.dev.availIdx(r.rxVq)).toBe(256 + 128);
    while (got.length < 160) got.push(...receive(r, 1));
    expect(r.dev.availIdx(r.rxVq)).toBe(256 + 128);
    got.forEach((m, i) => expect(fromMbuf(r, m)).toEqual(frames[i]));
    freeAll(r, got);
    stopAndCheck(r);
  });

  it("without IN_ORDER the refill takes descriptors from the free stack, each posted at the buffer's address", () => {
    const r = rig({ rxDesc: 64, pmd: { inOrder: false } });
    expect(r.info.features).not.toContain("IN_ORDER");
    for (let round = 0; round < 3; round++) {
      const frames = Array.from({ length: 20 }, (_, i) => frame(64 + i, round * 100 + i));
      deliver(r, frames);
      const got = receive(r);
      expect(got).toHaveLength(20);
      got.forEach((m, i) => expect(fromMbuf(r, m)).toEqual(frames[i]));
      expect(r.dev.availIdx(r.rxVq)).toBe(64 + 20 * (round + 1));
      freeAll(r, got);
    }
    // Every avail slot names a descriptor posting a distinct pool buffer: addr + 12 = buf_addr + headroom.
    const q = r.dev.queues[r.rxVq]!;
    const posted = new Set<number>();
    for (let k = 0; k < 64; k++) {
      const slot = r.mem.u16[((q.avail + 4) >>> 1) + k]!;
      const d = r.dev.desc(r.rxVq, slot);
      expect(d.flags).toBe(VRING_DESC_F_WRITE);
      expect(d.len).toBe(2176 - PKTMBUF_HEADROOM + 12);
      const m = d.addr + 12 - PKTMBUF_HEADROOM - 64;
      expect(r.pool.indexOf(m)).toBeGreaterThanOrEqual(0);
      posted.add(m);
    }
    expect(posted.size).toBe(64);
    expect(r.pool.inUse()).toBe(64);
    stopAndCheck(r);
  });

  it("IN_ORDER RX touch stores only where the device wrote nothing: the headroom byte before the header, the byte after a frame ending in its first data line; a longer frame gets none", () => {
    const r = rig({ rxDesc: 16 });
    expect(r.info.features).toContain("IN_ORDER");
    const lens = [60, 100, 52]; // ends inside the data's first line, ends past it, ends earlier in it
    const frames = lens.map((n, i) => frame(n, i));
    const hdrAt: number[] = [];
    for (const f of frames) {
      const heads = r.dev.deliver(r.rxVq, f, r.hdr, true);
      expect(heads).toHaveLength(1);
      const a = r.dev.desc(r.rxVq, heads![0]!).addr; // the header's address (12 bytes before the data)
      expect(a & 63).not.toBe(0); // the header sits inside its line, after headroom bytes
      expect((a + 12) & 63).toBe(0); // the data starts a line
      // What the device did not write: the headroom before the header, the bytes after the frame.
      r.mem.u8.fill(0xaa, a - 8, a);
      r.mem.u8.fill(0xaa, a + 12 + f.length, a + 12 + 200);
      hdrAt.push(a);
    }
    r.dev.publishUsed(r.rxVq);
    const ms = receive(r, 3);
    expect(ms).toHaveLength(3);
    const [a0, a1, a2] = hdrAt as [number, number, number];
    // Frame 0 (60 bytes from a 64-aligned data start): the headroom byte and the byte after its end zeroed, nothing else.
    expect([r.mem.u8[a0 - 2], r.mem.u8[a0 - 1], r.mem.u8[a0 + 12 + 60], r.mem.u8[a0 + 12 + 61]]).toEqual([0xaa, 0, 0, 0xaa]);
    // Frame 1 ends past the data's first line: that line is read, not written.
    expect([r.mem.u8[a1 - 2], r.mem.u8[a1 - 1], r.mem.u8[a1 + 12 + 100]]).toEqual([0xaa, 0, 0xaa]);
    // Frame 2 (52 bytes): the byte after its end is in the same line.
    expect([r.mem.u8[a2 - 1], r.mem.u8[a2 + 12 + 52], r.mem.u8[a2 + 12 + 53]]).toEqual([0, 0, 0xaa]);
    ms.forEach((m, i) => expect(fromMbuf(r, m)).toEqual(frames[i]));
    freeAll(r, ms);
    stopAndCheck(r);
  });

  it.each([{ inOrder: true }, { inOrder: false }])(
    "RX hands every frame out in alloc()'s state (refcnt 1, ol_flags 0, one segment) though the refill never touches the mbuf (inOrder: $inOrder)",
    ({ inOrder }) => {
      const r = rig({ rxDesc: 16, pmd: { inOrder } });
      expect(r.info.features.includes("IN_ORDER")).toBe(inOrder);
      // Every object left in the pool gets ol_flags the refill no longer clears (raw get/put: no reset).
      const free = new Uint32Array(r.pool.available());
      expect(r.pool.getBulk(free, free.length)).toBe(free.length);
      for (const m of free) {
        r.mem.u32[(m + 16) >>> 2] = 0xdeadbeef;
        r.mem.u32[(m + 20) >>> 2] = 0x5a5a5a5a;
      }
      r.pool.putBulk(free, free.length);
      for (let got = 0; got < 48; got += 8) {
        const frames = Array.from({ length: 8 }, (_, i) => frame(60 + got + i, got + i));
        deliver(r, frames);
        const ms = receive(r, 8);
        expect(ms).toHaveLength(8);
        ms.forEach((m, i) => {
          expect([r.mbufs.olFlags(m), r.mem.u32[(m + 20) >>> 2], r.mbufs.refcnt(m), r.mbufs.nbSegs(m), r.mbufs.next(m), r.mbufs.port(m)]).toEqual([0, 0, 1, 1, 0, 0]);
          expect([r.mbufs.dataOff(m), r.mbufs.pktLen(m), r.mbufs.dataLen(m)]).toEqual([128, 60 + got + i, 60 + got + i]);
          expect(fromMbuf(r, m)).toEqual(frames[i]);
        });
        freeAll(r, ms);
      }
      expect(r.port.stats()).toMatchObject({ ipackets: 48, ierrors: 0 });
      stopAndCheck(r);
    },
  );

  it("mergeable: a frame over several buffers becomes an mbuf chain", () => {
    // 256-byte rooms: a 1000-byte frame takes 4 buffers (244 + 3 * 268 ... as the device fills them).
    const r = rig({ dataRoom: PKTMBUF_HEADROOM + 256, poolSize: 256 });
    expect(r.info.features).toContain("MRG_RXBUF");
    const f = frame(1000, 7);
    const small = frame(100, 8);
    deliver(r, [f, small]);
    const got = receive(r);
    expect(got).toHaveLength(2);
    expect(r.mbufs.nbSegs(got[0]!)).toBe(4);
    expect(r.mbufs.pktLen(got[0]!)).toBe(1000);
    expect(fromMbuf(r, got[0]!)).toEqual(f);
    let s = r.mbufs.next(got[0]!);
    expect(r.mbufs.dataOff(s)).toBe(PKTMBUF_HEADROOM - 12); // later buffers have no header
    s = r.mbufs.next(s);
    expect(s).not.toBe(0);
    expect(fromMbuf(r, got[1]!)).toEqual(small);
    expect(r.mbufs.nbSegs(got[1]!)).toBe(1);
    freeAll(r, got);
    stopAndCheck(r);
  });

  it("runts (< header + 14 bytes) are dropped and counted", () => {
    const r = rig();
    deliver(r, [frame(10, 1), frame(60, 2)]);
    const got = receive(r);
    expect(got).toHaveLength(1);
    expect(xs(r, "rx_q0_runt_packets")).toBe(1);
    expect(r.port.stats().ierrors).toBe(1);
    freeAll(r, got);
    stopAndCheck(r);
  });

  it("rx_nombuf: what the pool cannot refill is counted and retried next burst; what it has is posted", () => {
    const r = rig({ rxDesc: 64, poolSize: 80 });
    expect(r.pool.available()).toBe(16);
    deliver(r, Array.from({ length: 40 }, (_, i) => frame(64, i)));
    const got = receive(r);
    expect(got).toHaveLength(40);
    // 40 free slots: the 16 mbufs left in the pool are posted (bulks of 32, 16), 24 slots stay empty.
    expect(r.port.stats().rx_nombuf).toBe(24);
    expect(r.dev.availIdx(r.rxVq)).toBe(64 + 16);
    expect(r.pool.available()).toBe(0);
    expect(receive(r)).toHaveLength(0); // retried: still dry
    expect(r.port.stats().rx_nombuf).toBe(48);
    freeAll(r, got);
    expect(receive(r)).toHaveLength(0);
    expect(r.dev.availIdx(r.rxVq)).toBe(64 + 40);
    expect(r.port.stats().rx_nombuf).toBe(48);
    stopAndCheck(r);
  });

  it("multicast, broadcast and bad used ids still count once the rare-counter branch is no longer primed", () => {
    const r = rig({ rxDesc: 64 });
    // 100 bursts of one plain frame: past the 64 primed bursts, the branch runs only when a count is not 0.
    for (let i = 0; i < 100; i++) {
      deliver(r, [frame(64, i)]);
      freeAll(r, receive(r));
    }
    expect(xs(r, "rx_q0_multicast_packets") + xs(r, "rx_q0_broadcast_packets")).toBe(0);
    deliver(r, [frame(70, 1, [0x01, 0x00, 0x5e, 0, 0, 1]), frame(64, 2), frame(70, 3, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]);
    freeAll(r, receive(r));
    expect(xs(r, "rx_q0_multicast_packets")).toBe(1);
    expect(xs(r, "rx_q0_broadcast_packets")).toBe(1);
    expect(xs(r, "rx_q0_good_packets")).toBe(103);
    stopAndCheck(r);
  });

  it("statistics: packets, bytes, multicast, broadcast and DPDK's size bins; statsReset", () => {
    const r = rig({ rxDesc: 64 });
    const sizes = [60, 64, 100, 200, 300, 600, 1200, 1514];
    const frames = sizes.map((s, i) => frame(s, i));
    frames.push(frame(70, 20, [0x01, 0x00, 0x5e, 0, 0, 1])); // multicast
    frames.push(frame(70, 21, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); // broadcast
    deliver(r, frames);
    freeAll(r, receive(r));
    const x = Object.fromEntries(r.port.xstats().map((s) => [s.name, s.value]));
    expect(x).toMatchObject({
      rx_q0_good_packets: 10,
      rx_q0_good_bytes: sizes.reduce((a, b) => a + b, 0) + 140,
      rx_q0_multicast_packets: 1,
      rx_q0_broadcast_packets: 1,
      rx_q0_undersize_packets: 1,
      rx_q0_size_64_packets: 1,
      rx_q0_size_65_127_packets: 3,
      rx_q0_size_128_255_packets: 1,
      rx_q0_size_256_511_packets: 1,
      rx_q0_size_512_1023_packets: 1,
      rx_q0_size_1024_1518_packets: 2,
      rx_q0_size_1519_max_packets: 0,
      rx_q0_errors: 0,
    });
    expect(Object.keys(x)).toContain("tx_q0_good_packets");
    r.port.statsReset();
    expect(r.port.stats()).toEqual({ ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rx_nombuf: 0 });
    expect(r.port.xstats().every((s) => s.value === 0)).toBe(true);
    deliver(r, [frame(64, 1)]);
    freeAll(r, receive(r));
    expect(r.port.stats().ipackets).toBe(1);
    stopAndCheck(r);
  });

  it("IN_ORDER quads: one size, broadcast and multicast inside a quad, a quad with a runt taken frame by frame", () => {
    const r = rig({ rxDesc: 64 });
    const bc = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    const mc = [0x01, 0x00, 0x5e, 0, 0, 1];
    // 0-11 three quads of one size each (64, 64, 100), 12-15 with a broadcast and a multicast,
    // 16-19 with a runt at 17 (dropped), 20 alone.
    const frames = [
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => frame(64, i)), ...[8, 9, 10, 11].map((i) => frame(100, i)),
      frame(100, 12), frame(70, 13, bc), frame(70, 14, mc), frame(1514, 15),
      frame(64, 16), frame(10, 17), frame(64, 18), frame(300, 19), frame(64, 20),
    ];
    deliver(r, frames);
    const got = receive(r);
    const kept = frames.filter((_, i) => i !== 17);
    expect(got).toHaveLength(kept.length);
    got.forEach((m, i) => {
      expect(fromMbuf(r, m)).toEqual(kept[i]);
      expect(r.mbufs.dataOff(m)).toBe(PKTMBUF_HEADROOM);
      expect(r.mbufs.refcnt(m)).toBe(1);
      expect(r.mbufs.nbSegs(m)).toBe(1);
      expect(r.mbufs.next(m)).toBe(0);
    });
    const x = Object.fromEntries(r.port.xstats().map((s) => [s.name, s.value]));
    expect(x).toMatchObject({
      rx_q0_good_packets: 20,
      rx_q0_good_bytes: kept.reduce((a, f) => a + f.length, 0),
      rx_q0_broadcast_packets: 1,
      rx_q0_multicast_packets: 1,
      rx_q0_runt_packets: 1,
      rx_q0_size_64_packets: 11,
      rx_q0_size_65_127_packets: 7,
      rx_q0_size_256_511_packets: 1,
      rx_q0_size_1024_1518_packets: 1,
    });
    freeAll(r, got);
    stopAndCheck(r);
  });

  it("IN_ORDER: refills keep descriptor i in slot i and never rewrite the avail ring", () => {
    const r = rig({ rxDesc: 64 });
    expect(r.info.features).toContain("IN_ORDER");
    const q = r.dev.queues[r.rxVq]!;
    const ring = () => Array.from(r.mem.u16.subarray((q.avail + 4) >>> 1, ((q.avail + 4) >>> 1) + 64));
    const before = ring();
    expect(before).toEqual(Array.from({ length: 64 }, (_, i) => i));
    for (let round = 0; round < 5; round++) {
      deliver(r, Array.from({ length: 30 }, (_, i) => frame(64 + i, round * 100 + i)));
      const got = receive(r);
      expect(got).toHaveLength(30);
      got.forEach((m, i) => expect(fromMbuf(r, m)).toEqual(frame(64 + i, round * 100 + i)));
      freeAll(r, got);
    }
    expect(ring()).toEqual(before);
    expect(xs(r, "rx_q0_bad_used_id")).toBe(0);
    stopAndCheck(r);
  });

  it("IN_ORDER refill: one store into each descriptor line it writes (the high address word, 0) before any line's second store", () => {
    // The lines' transfers from the device's CPU overlap instead of each waiting behind the last
    // line's stores (bench/notes/both-rings.md, "Session 20: burst 32 on the AMD host").
    const r = rig({ rxDesc: 64 });
    const q = r.dev.queues[r.rxVq]!;
    // Attached first (the attach's Atomics refuse the recorder's Proxy).
    expect(receive(r)).toEqual([]);
    for (let round = 0; round < 3; round++) {
      deliver(r, Array.from({ length: 30 }, (_, i) => frame(64 + i, round * 100 + i)));
      const rec = recordStoreOrder(r.rxq, q.desc, q.desc + 16 * 64);
      let got: number[];
      try {
        got = receive(r);
      } finally {
        rec.restore();
      }
      expect(got).toHaveLength(30);
      got.forEach((m, i) => expect(fromMbuf(r, m)).toEqual(frame(64 + i, round * 100 + i)));
      freeAll(r, got);
      // 30 free descriptors from position 30 * round: 8 or 9 lines, their first stores first.
      const { lines, firstRepeat } = linesBeforeRepeat(rec.log, q.desc);
      expect(lines).toBeGreaterThanOrEqual(8);
      expect(firstRepeat).toBe(lines);
      for (const w of rec.log.slice(0, lines)) expect([(w.bytes - q.desc) % 16, w.value]).toEqual([4, 0]);
    }
    for (let i = 0; i < 64; i++) {
      const d = r.dev.desc(r.rxVq, i);
      expect(d.flags).toBe(VRING_DESC_F_WRITE);
      expect(d.len).toBe(2176 - PKTMBUF_HEADROOM + 12);
      expect(r.mbufs.bufAddr(d.addr + 12 - PKTMBUF_HEADROOM - 64) + PKTMBUF_HEADROOM).toBe(d.addr + 12);
    }
    expect(xs(r, "rx_q0_bad_used_id")).toBe(0);
    stopAndCheck(r);
  });

  it("rxBurst/txBurst wrappers attach on first use and forward", () => {
    const r = rig();
    // The rig's own objects let the queues go: one object drives a queue at a time.
    r.rxq.detach();
    r.txq.detach();
    bindThreadMemory(r.mem);
    deliver(r, [frame(64, 1), frame(65, 2)]);
    const arr = new Uint32Array(4);
    expect(rxBurst(0, 0, arr, 4)).toBe(2);
    expect(txBurst(0, 0, arr, 2)).toBe(2);
    const sent = r.dev.drainTx(r.txVq).map((c) => r.dev.gather(c, r.hdr));
    expect(sent).toEqual([frame(64, 1), frame(65, 2)]);
    expect(() => rxBurst(0, 3, arr, 4)).toThrow(/not set up/);
    stopAndCheck(r);
  });

  it("stop then start again: lcore objects resync; every mbuf comes back each time", () => {
    const r = rig({ rxDesc: 64 });
    for (let cycle = 0; cycle < 3; cycle++) {
      deliver(r, [frame(64, cycle), frame(128, cycle)]);
      const got = receive(r);
      expect(got.map((m) => fromMbuf(r, m))).toEqual([frame(64, cycle), frame(128, cycle)]);
      expect(r.txq.txBurst(Uint32Array.from(got), 2)).toBe(2);
      r.port.stop(10);
      expect(r.pool.available()).toBe(r.pool.size);
      expect(r.rxq.rxBurst(new Uint32Array(4), 4)).toBe(0); // stopped: nothing, no crash
      const extra = toMbuf(r, frame(64, 0));
      expect(r.txq.txBurst(Uint32Array.of(extra), 1)).toBe(0); // the caller keeps it
      r.mbufs.free(extra);
      r.port.start();
    }
    r.port.close();
  });
});

describe("queue re-setup", () => {
  it("a queue set up again with another size moves to a new zone; attached lcore objects follow", () => {
    const r = rig({ rxDesc: 64, txDesc: 64 });
    deliver(r, [frame(64, 1)]);
    freeAll(r, receive(r));
    r.port.stop();
    r.port.rxQueueSetup(0, { pool: r.pool, nbDesc: 256 });
    r.port.txQueueSetup(0, { nbDesc: 128 });
    const info = r.port.start();
    expect(info.rxQueueSizes).toEqual([256]);
    expect(r.dev.availIdx(r.rxVq)).toBe(256);
    deliver(r, [frame(100, 2), frame(101, 3)]);
    const got = receive(r); // the same RxQueue object, re-bound
    expect(got.map((m) => fromMbuf(r, m))).toEqual([frame(100, 2), frame(101, 3)]);
    expect(r.rxq.size).toBe(256);
    expect(r.txq.txBurst(Uint32Array.from(got), 2)).toBe(2);
    expect(r.txq.size).toBe(128);
    expect(r.dev.drainTx(r.txVq).map((c) => r.dev.gather(c, r.hdr))).toEqual([frame(100, 2), frame(101, 3)]);
    stopAndCheck(r);
  });
});

describe("RX interrupt mode", () => {
  it("enable clears NO_INTERRUPT; waitInterrupt sleeps until the device signals", () => {
    const r = rig({ pmd: { eventIdx: false } });
    r.rxq.enableInterrupt();
    expect(r.dev.availFlags(r.rxVq)).toBe(0);
    expect(r.rxq.waitInterrupt(5)).toBe(false); // nothing: times out
    deliver(r, [frame(64, 1)]);
    expect(r.rxq.waitInterrupt(1000)).toBe(true); // used entries already waiting: no sleep
    r.dev.interrupt(r.rxVq);
    const got = receive(r);
    expect(got).toHaveLength(1);
    freeAll(r, got);
    r.rxq.disableInterrupt();
    expect(r.dev.availFlags(r.rxVq)).toBe(VRING_AVAIL_F_NO_INTERRUPT);
    stopAndCheck(r);
  });

  it("under EVENT_IDX, used_event asks for the next used entry while waiting, and is far behind while polling", () => {
    const r = rig();
    deliver(r, [frame(64, 1)]);
    freeAll(r, receive(r));
    expect(r.dev.usedEvent(r.rxVq)).toBe((1 - 256) & 0xffff); // 256 behind: never reached while polling
    r.rxq.enableInterrupt();
    expect(r.rxq.waitInterrupt(1)).toBe(false);
    expect(r.dev.usedEvent(r.rxVq)).toBe(1);
    expect(r.dev.availFlags(r.rxVq)).toBe(0); // §2.7.7: under EVENT_IDX the flags stay 0
    r.rxq.disableInterrupt();
    expect(r.dev.availFlags(r.rxVq)).toBe(0);
    expect(r.dev.usedEvent(r.rxVq)).toBe((1 - 256) & 0xffff); // polling again: far behind
    stopAndCheck(r);
  });

  it("EVENT_IDX, polling: used_event stays 256 behind what was received, moved once per 2^14 entries (not per burst)", () => {
    const r = rig();
    expect(r.info.features).toContain("EVENT_IDX");
    deliver(r, [frame(64, 1)]);
    freeAll(r, receive(r));
    expect(r.dev.usedEvent(r.rxVq)).toBe((1 - 0x100) & 0xffff);
    // While statPrimes lasts (the first STAT_PRIMES bursts that receive) every burst moves it (the
    // call primed, rxq.ts); after that, not per burst: the next move comes 2^14 entries later.
    let got = 1;
    let at = 1;
    let bursts = 1;
    while (bursts <= STAT_PRIMES || got < at + 0x4000) {
      deliver(r, Array.from({ length: 32 }, (_, i) => frame(64, i)));
      const ms = receive(r, 32);
      expect(ms).toHaveLength(32);
      freeAll(r, ms);
      got += 32;
      bursts++;
      if (bursts <= STAT_PRIMES) {
        expect(r.dev.usedEvent(r.rxVq)).toBe((got - 0x100) & 0xffff);
        at = got;
      } else if (got < at + 0x4000) expect(r.dev.usedEvent(r.rxVq)).toBe((at - 0x100) & 0xffff);
    }
    expect(r.dev.usedEvent(r.rxVq)).toBe((got - 0x100) & 0xffff);
    expect(r.port.stats()).toMatchObject({ ipackets: got, ierrors: 0 });
    stopAndCheck(r);
  });
});

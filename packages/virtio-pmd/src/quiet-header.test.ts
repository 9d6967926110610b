import { MBUF_HDR, PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { releaseTestWire } from "@tpdk/testing/vhost";
import { frame, frameOf, packedRig, recordStoreOrder, rig, type Rig } from "@tpdk/testing/virtio-pmd";
import { Q_DESC } from "./layout.js";

// The virtio-net header line of a forwarded frame (the 64-byte line holding the 12-byte header in
// the mbuf's headroom) across one frame cycle, RX then TX of the same mbufs. Without MRG_RXBUF
// the driver stores nothing into it where the header is already 0 (the line stays quiet facing a
// device that writes nothing there either, as DPDK's vhost), and still stores 0 where a device
// left num_buffers = 1 (virtio 1.2 §5.1.6.2.1: the driver MUST set num_buffers to zero). Under
// MRG_RXBUF the device stores num_buffers into the line on every RX (§5.1.6.4), and the driver's
// stores stay: the RX touch's headroom byte and the split push batch's three words.

/** Stores logged by recordStoreOrder, as [byte offset in the header's line, width]. */
type Stores = { bytes: number; value: number; width: number }[];

/** The 64-byte line holding mbuf `m`'s header (the data starts at the default headroom; the header just before it). */
const headerLine = (m: number, hdr = 12): number => (m + MBUF_HDR + PKTMBUF_HEADROOM - hdr) & ~63;

/** The stores in `log` into the header line of any of `ms`, grouped by mbuf, each as [offset in the line, width, value]. */
function storesIntoHeaderLines(log: Stores, ms: readonly number[]): Map<number, [number, number, number][]> {
  const byLine = new Map<number, number>();
  for (const m of ms) byLine.set(headerLine(m), m);
  const out = new Map<number, [number, number, number][]>();
  for (const m of ms) out.set(m, []);
  for (const s of log) {
    const m = byLine.get(s.bytes & ~63);
    if (m !== undefined) out.get(m)!.push([s.bytes & 63, s.width, s.value]);
  }
  return out;
}

/** Runs `run` with every store (u8, u16, u32) of each queue into the memory recorded, the views put back after; one log per queue. */
function recordStores(queues: readonly object[], memLen: number, run: () => void) {
  const recs = queues.map((q) => recordStoreOrder(q, 0, memLen, ["u8", "u16", "u32"]));
  try {
    run();
  } finally {
    // Last recorder first: each restores the view it replaced.
    for (let i = recs.length - 1; i >= 0; i--) recs[i]!.restore();
  }
  return recs.map((rec) => rec.log);
}

/** Frame cycles on a split rig: `n` frames delivered, received, sent back out; the stores of rxBurst and txBurst recorded. */
function splitCycle(r: Rig, n: number, numBuffers: (i: number) => number) {
  const mergeable = r.info.features.includes("MRG_RXBUF");
  const frames = Array.from({ length: n }, (_, i) => frame(60 + (i % 3), i));
  frames.forEach((f, i) => {
    const heads = r.dev.deliver(r.rxVq, f, r.hdr, mergeable);
    expect(heads).toHaveLength(1);
    // What a device leaves in num_buffers: 1 under MRG_RXBUF (deliver), and without it 0 as DPDK's
    // vhost or 1 as QEMU's and Linux's vhost-net (since their 2025 fixes).
    const a = r.dev.desc(r.rxVq, heads![0]!).addr;
    if (!mergeable) r.mem.u8[a + 10] = numBuffers(i);
  });
  r.dev.publishUsed(r.rxVq);
  const arr = new Uint32Array(64);
  let got = 0;
  let sent = 0;
  const [rxLog, txLog] = recordStores([r.rxq, r.txq], r.mem.u8.length, () => {
    got = r.rxq.rxBurst(arr, n);
    // Bursts of 7: four by the push batch's quad, three by its one-frame step (the next burst then
    // starts off a line boundary and takes one-frame steps up to it).
    while (sent < got) sent += r.txq.txBurst(arr, Math.min(7, got - sent), sent);
  });
  expect(got).toBe(n);
  const ms = Array.from(arr.subarray(0, n));
  const chains = r.dev.drainTx(r.txVq);
  expect(chains.map((c) => r.dev.gather(c, r.hdr))).toEqual(frames);
  // Every header the device reads on TX is 0 (§5.1.6.2.1), num_buffers included.
  for (const c of chains) expect(Array.from(r.mem.u8.subarray(c.segs[0]!.addr, c.segs[0]!.addr + 12))).toEqual(new Array(12).fill(0));
  return { ms, rx: storesIntoHeaderLines(rxLog!, ms), tx: storesIntoHeaderLines(txLog!, ms), chains };
}

function stopAndCheck(r: Rig): void {
  r.port.stop();
  expect(r.pool.available()).toBe(r.pool.size);
}

describe("split rings: the header line across RX and TX of a forwarded frame", () => {
  it.each([{ inOrder: true }, { inOrder: false }])(
    "without MRG_RXBUF, headers the device left 0: neither the RX touch nor TX stores into the line (inOrder: $inOrder)",
    ({ inOrder }) => {
      const r = rig({ rxDesc: 64, txDesc: 64, pmd: { mrgRxbuf: false, inOrder } });
      expect(r.info.features).not.toContain("MRG_RXBUF");
      expect(r.info.features.includes("IN_ORDER")).toBe(inOrder);
      expect(r.hdr).toBe(12);
      for (let lap = 0; lap < 3; lap++) {
        const { rx, tx, ms } = splitCycle(r, 25, () => 0);
        for (const m of ms) {
          expect(rx.get(m), `lap ${lap} RX of ${m}`).toEqual([]);
          expect(tx.get(m), `lap ${lap} TX of ${m}`).toEqual([]);
        }
      }
      expect(r.port.xstats().find((s) => s.name === "tx_q0_push_packets")!.value).toBe(75);
      stopAndCheck(r);
    },
  );

  it.each([{ inOrder: true }, { inOrder: false }])(
    "without MRG_RXBUF, a num_buffers of 1 (QEMU, vhost-net) is still stored 0 by TX, and only in those headers (inOrder: $inOrder)",
    ({ inOrder }) => {
      const r = rig({ rxDesc: 64, txDesc: 64, pmd: { mrgRxbuf: false, inOrder } });
      const one = (i: number): number => (i % 3 === 1 ? 1 : 0);
      for (let lap = 0; lap < 2; lap++) {
        const { rx, tx, ms } = splitCycle(r, 25, one);
        ms.forEach((m, i) => {
          expect(rx.get(m), `RX of frame ${i}`).toEqual([]);
          const hw = tx.get(m)!;
          if (one(i) === 0) expect(hw, `TX of frame ${i}`).toEqual([]);
          else {
            // The header's last word (csum_offset, num_buffers) stored 0; its other words too or not.
            expect(hw.length, `TX of frame ${i}`).toBeGreaterThan(0);
            expect(hw.every(([, , value]) => value === 0)).toBe(true);
            expect(hw.some(([off, width]) => off <= 62 && off + width > 62)).toBe(true);
          }
        });
      }
      stopAndCheck(r);
    },
  );

  it("under MRG_RXBUF nothing changes: the RX touch stores the headroom byte before the header, the push batch its three header words", () => {
    const r = rig({ rxDesc: 64, txDesc: 64 });
    expect(r.info.features).toContain("MRG_RXBUF");
    expect(r.info.features).toContain("IN_ORDER");
    for (let lap = 0; lap < 2; lap++) {
      const { rx, tx, ms } = splitCycle(r, 25, () => 1);
      for (const m of ms) {
        // The header at line offset 52 (the data starts the next line), the touch's byte before it.
        expect(rx.get(m)).toEqual([[51, 1, 0]]);
        expect(tx.get(m)).toEqual([[52, 4, 0], [56, 4, 0], [60, 4, 0]]);
      }
    }
    stopAndCheck(r);
  });
});

describe("packed rings: the header line across RX and TX of a forwarded frame", () => {
  type PackedRig = ReturnType<typeof packedRig>;

  /** Frames written into the buffers posted at ring positions 0..n-1 (first lap), header 0 but num_buffers `nb(i)`, and their used descriptors. */
  function place(s: PackedRig, n: number, nb: (i: number) => number): Uint8Array[] {
    const z = s.zoneOf(false);
    const d0 = s.mem.u32[(z + Q_DESC) >>> 2]!;
    const frames: Uint8Array[] = [];
    for (let pos = 0; pos < n; pos++) {
      const d = d0 + 16 * pos;
      const addr = s.mem.u32[d >>> 2]!;
      const f = frameOf(60, pos);
      s.mem.u8.fill(0, addr, addr + 12);
      s.mem.u8[addr + 10] = nb(pos);
      s.mem.u8.set(f, addr + 12);
      frames.push(f);
      const id = s.mem.u16[(d + 12) >>> 1]!;
      s.mem.u16[(d + 12) >>> 1] = id;
      s.mem.u32[(d + 8) >>> 2] = 12 + f.length;
      Atomics.store(s.mem.u16, (d + 14) >>> 1, v.packedUsedFlags(1) | v.VRING_DESC_F_WRITE);
    }
    return frames;
  }

  /** RX of the `n` placed frames then TX of them, the stores of both recorded; the device takes the TX frames. */
  function packedCycle(s: PackedRig, n: number) {
    const arr = new Uint32Array(64);
    let got = 0;
    let sent = 0;
    const [rxLog, txLog] = recordStores([s.rxq, s.txq], s.mem.u8.length, () => {
      for (let t = 0; t < 4 && got < n; t++) got += s.rxq.rxBurst(arr, n - got, got);
      for (let t = 0; t < 8 && sent < got; t++) sent += s.txq.txBurst(arr, got - sent, sent);
    });
    expect([got, sent]).toEqual([n, n]);
    const ms = Array.from(arr.subarray(0, n));
    // Before the device takes them: the headers it will read are 0 (§5.1.6.2.1).
    for (const m of ms) {
      const h = s.mbufs.dataAddr(m) - 12;
      expect(Array.from(s.mem.u8.subarray(h, h + 12))).toEqual(new Array(12).fill(0));
    }
    return { ms, rx: storesIntoHeaderLines(rxLog!, ms), tx: storesIntoHeaderLines(txLog!, ms) };
  }

  function close(s: PackedRig): void {
    s.pass(4);
    s.port.stop();
    expect(s.pool.available()).toBe(s.pool.size);
    s.port.close();
  }

  it("without MRG_RXBUF, headers the device left 0: neither the RX touch nor TX stores into the line; a num_buffers of 1 is stored 0", () => {
    const s = packedRig(64, [], { mrgRxbuf: false, inOrder: true });
    expect(s.info.features).not.toContain("MRG_RXBUF");
    const one = (i: number): number => (i % 4 === 2 ? 1 : 0);
    place(s, 24, one);
    const { rx, tx, ms } = packedCycle(s, 24);
    ms.forEach((m, i) => {
      expect(rx.get(m), `RX of frame ${i}`).toEqual([]);
      // zeroHeader's compare-and-skip, word by word: only num_buffers' word where the device left 1.
      expect(tx.get(m), `TX of frame ${i}`).toEqual(one(i) === 1 ? [[60, 4, 0]] : []);
    });
    close(s);
  });

  it("without MRG_RXBUF, facing the device core (which stores num_buffers 1 on every RX): TX stores it 0, the frames arrive", () => {
    const frames = Array.from({ length: 16 }, (_, i) => frameOf(60, i));
    const s = packedRig(64, frames, { mrgRxbuf: false, inOrder: true });
    const arr = new Uint32Array(64);
    releaseTestWire(s.mem, s.gen.recordOffset, 16);
    s.pass(2);
    let got = 0;
    for (let t = 0; t < 4 && got < 16; t++) got += s.rxq.rxBurst(arr, 64, got);
    expect(got).toBe(16);
    for (let i = 0; i < 16; i++) {
      const m = arr[i]!;
      const a = s.mbufs.dataAddr(m);
      expect(s.mem.u8.slice(a, a + s.mbufs.dataLen(m))).toEqual(frames[i]);
      expect(s.mem.u8[s.mbufs.dataAddr(m) - 2]).toBe(1);
    }
    let sent = 0;
    const [txLog] = recordStores([s.txq], s.mem.u8.length, () => {
      for (let t = 0; t < 8 && sent < 16; t++) sent += s.txq.txBurst(arr, 16 - sent, sent);
    });
    expect(sent).toBe(16);
    const tx = storesIntoHeaderLines(txLog!, Array.from(arr.subarray(0, 16)));
    for (let i = 0; i < 16; i++) expect(tx.get(arr[i]!), `TX of frame ${i}`).toEqual([[60, 4, 0]]);
    close(s);
  });

  it("under MRG_RXBUF the RX touch still stores the headroom byte before the header", () => {
    const s = packedRig(64, [], { inOrder: true });
    expect(s.info.features).toContain("MRG_RXBUF");
    place(s, 8, () => 1);
    const { rx, tx, ms } = packedCycle(s, 8);
    for (const m of ms) {
      expect(rx.get(m)).toEqual([[51, 1, 0]]);
      expect(tx.get(m)).toEqual([[60, 4, 0]]);
    }
    close(s);
  });
});

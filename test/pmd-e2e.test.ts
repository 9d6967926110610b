// End to end across threads: the real software device (packages/vhost) on its
// own thread, the driver (packages/virtio-pmd) polling on this one, on split
// rings and on packed rings (virtio 1.2 §2.8, packed_vq=1: the device offers
// RING_PACKED, the driver runs PackedRxQueue/PackedTxQueue).
//
//   test wire "gen" --device RX--> port 0 rxBurst --> txBurst port 1 --device TX--> test wire "sink"
//
// For each configuration: every frame arrives intact and in order on both
// sides, the counters balance (wire produced = ipackets = opackets = sink
// consumed, nothing missed), and after stop() every mbuf is back in its pool.
// Its threads load the compiled dist/ (the test command builds first).
import { afterEach, describe, expect, it } from "vitest";
import { Backoff, Memory } from "@tpdk/eal";
import { Mbufs, Mempool, PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import { Vhost } from "@tpdk/vhost";
import { readTestWire, releaseTestWire, testWireSpec } from "@tpdk/testing/vhost";
import { VirtioPort, bindThreadMemory, rxBurst, txBurst, type TxMode, type VirtioPmdOptions } from "@tpdk/virtio-pmd";
import { rxRefillThreshold } from "@tpdk/virtio";

interface Config {
  /** Packed virtqueues (packed_vq=1) instead of split ones. */
  packed?: boolean;
  txMode: TxMode;
  mrg: boolean;
  inOrder: boolean;
  eventIdx: boolean;
  queueSize: number;
  /** RX mbuf data room after the headroom (small rooms make mergeable chains). */
  room: number;
}

const SIZES = [60, 61, 64, 65, 100, 127, 128, 255, 256, 511, 512, 1000, 1023, 1024, 1400, 1513, 1514];

function makeFrames(n: number, seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = SIZES[(i * 7 + seed) % SIZES.length]!;
    const f = new Uint8Array(len);
    f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5]);
    f[14] = i & 0xff;
    f[15] = (i >>> 8) & 0xff;
    for (let k = 16; k < len; k++) f[k] = (i * 131 + k * 17 + seed) & 0xff;
    out.push(f);
  }
  return out;
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (cleanup) await cleanup();
  cleanup = null;
});

/**
 * `distinct` different frames, sent `repeat` times over (frame i is
 * frames[i % distinct]); the sink records the first `distinct` only when
 * repeating (its zone is sized for them), the rest are counted.
 */
async function runConfig(c: Config, distinct: number, repeat = 1): Promise<void> {
  const mem = Memory.create(160 << 20);
  const frames = makeFrames(distinct, c.queueSize);
  const nFrames = distinct * repeat;
  const gen = testWireSpec(mem, "e2e.gen", frames, { gated: true, recordBytes: 64, repeat });
  const sink = testWireSpec(mem, "e2e.sink", [], { recordBytes: distinct * 1520 + 64 });
  const vhost = new Vhost(mem, {});
  const offer = c.packed ? { offer: { RING_PACKED: true } } : {};
  const dev0 = vhost.addDevice({ name: "virtio0", wire: gen, maxQueueSize: 4096, ...offer });
  const dev1 = vhost.addDevice({ name: "virtio1", wire: sink, maxQueueSize: 4096, ...offer });
  await vhost.start();
  const ports: VirtioPort[] = [];
  cleanup = async () => {
    for (const p of ports) p.close();
    await vhost.stop();
  };
  const options: VirtioPmdOptions = {
    queueSize: c.queueSize,
    txMode: c.txMode,
    mrgRxbuf: c.mrg,
    inOrder: c.inOrder,
    eventIdx: c.eventIdx,
    packedVq: c.packed === true,
  };
  const p0 = VirtioPort.probe(mem, { portId: 0, name: "virtio0", transportOffset: dev0.transportOffset, options });
  ports.push(p0);
  const p1 = VirtioPort.probe(mem, { portId: 1, name: "virtio1", transportOffset: dev1.transportOffset, options });
  ports.push(p1);
  const pool = Mempool.create(mem, "e2e", { n: 2 * c.queueSize + 1024, cacheSize: 0, dataRoomSize: PKTMBUF_HEADROOM + c.room, debug: true });
  for (const p of [p0, p1]) {
    p.configure(1, 1);
    p.rxQueueSetup(0, { pool });
    p.txQueueSetup(0, {});
  }
  const info0 = p0.start();
  p1.start();
  expect(info0.features.includes("MRG_RXBUF")).toBe(c.mrg);
  expect(info0.features.includes("IN_ORDER")).toBe(c.inOrder);
  expect(info0.features.includes("EVENT_IDX")).toBe(c.eventIdx);
  expect(info0.features.includes("RING_PACKED")).toBe(c.packed === true);
  expect(p0.packed && p1.packed).toBe(c.packed === true);
  expect(info0.rxQueueSizes).toEqual([c.queueSize]);
  expect(info0.macString).toBe(dev0.mac.toUpperCase());

  // The test thread is the lcore. Release frames to the generator no faster
  // than RX buffers are posted, so the device never has to drop one.
  bindThreadMemory(mem);
  const mbufs = new Mbufs(mem);
  const bufsPerFrame = c.mrg ? Math.ceil((1514 + 12) / (c.room + 12)) : 1;
  const window = Math.max(1, Math.floor((c.queueSize - rxRefillThreshold(c.queueSize)) / bufsPerFrame) - 2);
  const napWord = new Int32Array(new SharedArrayBuffer(4));
  const backoff = new Backoff(napWord, 0, false, { spinPasses: 16, maxWaitMs: 0.5 });
  const arr = new Uint32Array(32);
  let received = 0;
  let released = 0;
  let segs = 0;
  const deadline = Date.now() + 60_000;
  while (received < nFrames) {
    if (Date.now() > deadline) throw new Error(`timed out: received ${received}/${nFrames}, released ${released}`);
    if (released - received < window / 2 && released < nFrames) {
      const k = Math.min(window - (released - received), nFrames - released);
      releaseTestWire(mem, gen.recordOffset, k);
      Backoff.wake(mem.i32, vhost.doorbellAddr >>> 2);
      released += k;
    }
    const n = rxBurst(0, 0, arr, 32);
    for (let i = 0; i < n; i++) {
      // Compare in place, segment by segment, with the frame expected next.
      const want = frames[received % distinct]!;
      let off = 0;
      for (let s = arr[i]!; s !== 0; s = mbufs.next(s)) {
        segs++;
        const a = mbufs.dataAddr(s);
        const len = mbufs.dataLen(s);
        for (let k = 0; k < len; k++) {
          if (mem.u8[a + k] !== want[off + k]) throw new Error(`rx frame ${received} differs at byte ${off + k}`);
        }
        off += len;
      }
      if (off !== want.length || mbufs.pktLen(arr[i]!) !== want.length) throw new Error(`rx frame ${received}: ${off} bytes, want ${want.length}`);
      received++;
    }
    let sent = 0;
    while (sent < n) {
      const k = txBurst(1, 0, arr, n - sent, sent);
      sent += k;
      if (k === 0) {
        if (Date.now() > deadline) throw new Error("tx stuck");
        backoff.idle();
      }
    }
    if (n === 0) backoff.idle();
    else backoff.reset();
  }
  // The sink has consumed everything we sent?
  while (readTestWire(mem, sink.recordOffset).consumed < nFrames) {
    if (Date.now() > deadline) throw new Error(`sink consumed ${readTestWire(mem, sink.recordOffset).consumed}/${nFrames}`);
    Atomics.wait(napWord, 0, 0, 1);
  }

  const rec = readTestWire(mem, sink.recordOffset);
  expect(rec.consumed).toBe(nFrames);
  expect(rec.overflow + rec.frames.length).toBe(nFrames);
  // Records are in order up to the first frame that did not fit the zone (smaller ones may follow).
  let prefix = 0;
  for (let used = 0; prefix < nFrames; prefix++) {
    used += 4 + ((frames[prefix % distinct]!.length + 3) & ~3);
    if (used > sink.recordBytes) break;
  }
  expect(rec.frames.length).toBeGreaterThanOrEqual(Math.min(prefix, nFrames));
  for (let i = 0; i < prefix; i++) {
    const want = frames[i % distinct]!;
    if (!rec.frames[i]!.every((b, k) => b === want[k]) || rec.frames[i]!.length !== want.length) {
      throw new Error(`sink frame ${i} differs`);
    }
  }
  const bytes = frames.reduce((a, f) => a + f.length, 0) * repeat;
  const g = readTestWire(mem, gen.recordOffset);
  expect({ produced: g.produced, missed: g.missed }).toEqual({ produced: nFrames, missed: 0 });
  expect(p0.stats()).toMatchObject({ ipackets: nFrames, ibytes: bytes, ierrors: 0, rx_nombuf: 0 });
  expect(p1.stats()).toMatchObject({ opackets: nFrames, obytes: bytes, oerrors: 0 });
  const x1 = Object.fromEntries(p1.xstats().map((s) => [s.name, s.value]));
  const pathCount = x1["tx_q0_push_packets"]! + x1["tx_q0_indirect_packets"]! + x1["tx_q0_chained_packets"]!;
  expect(pathCount).toBe(nFrames);
  if (c.txMode === "chained") expect(x1["tx_q0_chained_packets"]).toBe(nFrames);
  if (c.txMode === "indirect") expect(x1["tx_q0_indirect_packets"]).toBe(nFrames);
  if ((c.txMode === "push" || c.txMode === "auto") && segs === nFrames) expect(x1["tx_q0_push_packets"]).toBe(nFrames);
  if (c.mrg && c.room < 1514) expect(segs).toBeGreaterThan(nFrames);
  // Kicks: the device polls and suppresses notifications while busy, so few kicks per packet.
  expect(x1["tx_q0_kicks"]!).toBeLessThanOrEqual(nFrames);
  const errs = [...p0.xstats(), ...p1.xstats()].filter((s) => /bad_|truncated|runt/.test(s.name) && s.value !== 0);
  expect(errs).toEqual([]);

  p0.stop();
  p1.stop();
  expect(pool.available()).toBe(pool.size);
  p0.close();
  p1.close();
  ports.length = 0;
}

const MODES: TxMode[] = ["auto", "chained", "push", "indirect"];
/** Split rings are powers of two; packed rings take any size (§2.8.10.1). */
const QSIZES = { split: [64, 128, 256, 512, 1024, 2048, 4096], packed: [64, 100, 256, 333, 1024, 2000, 4096] };

function configsFor(packed: boolean): Config[] {
  const sizes = packed ? QSIZES.packed : QSIZES.split;
  const out: Config[] = [];
  let qi = 0;
  for (const txMode of MODES) {
    for (const mrg of [true, false]) {
      for (const inOrder of [true, false]) {
        for (const eventIdx of [true, false]) {
          if ((mrg ? 1 : 0) + (inOrder ? 1 : 0) + (eventIdx ? 1 : 0) === 1 && txMode !== "auto") continue; // keep the run short
          const queueSize = sizes[qi++ % sizes.length]!;
          out.push({ packed, txMode, mrg, inOrder, eventIdx, queueSize, room: mrg && qi % 2 === 0 ? 512 : 2048 });
        }
      }
    }
  }
  return out;
}

describe("virtio-pmd against the real device thread", () => {
  it.each(configsFor(false))("tx=$txMode mrg=$mrg in_order=$inOrder event_idx=$eventIdx Q=$queueSize room=$room", async (c) => {
    await runConfig(c, 400);
  });

  it("runs past the u16 wrap of avail.idx / used.idx (70 400 frames, Q=256, IN_ORDER and not)", async () => {
    await runConfig({ txMode: "auto", mrg: true, inOrder: true, eventIdx: true, queueSize: 256, room: 2048 }, 64, 1100);
    await cleanup?.();
    cleanup = null;
    await runConfig({ txMode: "auto", mrg: false, inOrder: false, eventIdx: false, queueSize: 64, room: 2048 }, 64, 1100);
  });
});

describe("virtio-pmd on packed rings against the real device thread", () => {
  it.each(configsFor(true))("tx=$txMode mrg=$mrg in_order=$inOrder event_idx=$eventIdx Q=$queueSize room=$room", async (c) => {
    await runConfig(c, 400);
  });

  it("runs through many wrap counter flips (12 800 frames, Q=100 and Q=64, IN_ORDER and not, chained and indirect)", async () => {
    await runConfig({ packed: true, txMode: "chained", mrg: true, inOrder: true, eventIdx: true, queueSize: 100, room: 512 }, 64, 200);
    await cleanup?.();
    cleanup = null;
    await runConfig({ packed: true, txMode: "indirect", mrg: false, inOrder: false, eventIdx: false, queueSize: 64, room: 2048 }, 64, 200);
  });
});

import { type Memory, setLcoreId } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { AVAIL_IDX, AVAIL_RING, USED_IDX, USED_RING } from "@tpdk/virtio";
import { InProcessTransport, RxQueue, TxQueue, type TxMode, VirtioPort } from "@tpdk/virtio-pmd";
import { ALL_FEATURES, FakeNetDevice, type FakeQueue } from "@tpdk/testing/virtio-pmd";

/**
 * A virtio-pmd port on this thread against virtio-pmd's own fake device (its
 * test helper, @tpdk/virtio-pmd/testing), so the driver's TX and RX bursts
 * can be timed without another thread. The fake device, offering everything
 * the driver can use, answers the bring-up traps; the data path is
 * completed by the small ring walkers below, which do what a device does
 * with the least work: return each TX chain unread, mark posted RX buffers
 * used with a 60-byte frame already in place.
 */

export const FRAME_LEN = 60;

export interface RigOptions {
  txMode: TxMode;
  inOrder: boolean;
  mrgRxbuf: boolean;
  queueSize: number;
}

export interface PmdRig {
  readonly mem: Memory;
  readonly pool: Mempool;
  readonly mbufs: Mbufs;
  readonly rxq: RxQueue;
  readonly txq: TxQueue;
  readonly hdr: number;
  /** Return every TX chain the driver made available (one used entry per chain; in order: one per batch). */
  completeTx(): number;
  /** Mark up to n posted RX buffers used, each holding a FRAME_LEN-byte frame. */
  deliverRx(n: number): number;
  close(): void;
}

let rigCount = 0;

/** Probe, configure and start port `portId` (one RX and one TX queue) against a fresh fake device. Cold. */
export function pmdRig(mem: Memory, portId: number, o: RigOptions): PmdRig {
  setLcoreId(0); // the pool's lcore cache, as on an lcore
  const dev = new FakeNetDevice(mem, { offered: ALL_FEATURES, mac: [0x02, 0, 0, 0, 0, portId + 1] });
  const transport = new InProcessTransport(mem, dev.region, dev, `virtio${portId}`);
  const port = VirtioPort.probe(mem, {
    portId,
    transport,
    options: { queueSize: o.queueSize, txMode: o.txMode, inOrder: o.inOrder, mrgRxbuf: o.mrgRxbuf },
  });
  const pool = Mempool.create(mem, `micro${rigCount++}`, { n: 4 * o.queueSize + 1024, cacheSize: 256 });
  const mbufs = new Mbufs(mem);
  // Every mbuf carries a ready 60-byte unicast frame and, in its headroom, the
  // RX header a device would write (num_buffers = 1). Raw getBulk keeps them.
  const all = new Uint32Array(pool.size);
  if (pool.allocBulk(all, all.length) === 0) throw new Error("pmdRig: pool allocation failed");
  const u8 = mem.u8;
  for (const m of all) {
    mbufs.setDataLen(m, FRAME_LEN);
    mbufs.setPktLen(m, FRAME_LEN);
    const a = mbufs.dataAddr(m);
    u8.fill(0, a - 12, a);
    u8[a - 2] = 1; // num_buffers (little-endian) at header offset 10
    for (let i = 0; i < FRAME_LEN; i++) u8[a + i] = i === 0 ? 0x02 : i & 0xff;
  }
  mbufs.freeBulk(all, all.length);
  port.configure(1, 1);
  port.rxQueueSetup(0, { pool, nbDesc: o.queueSize });
  port.txQueueSetup(0, { nbDesc: o.queueSize });
  const info = port.start();
  if (o.inOrder !== info.features.includes("IN_ORDER") || o.mrgRxbuf !== info.features.includes("MRG_RXBUF")) {
    throw new Error(`pmdRig: negotiated ${info.features.join(",")}, wanted in_order=${+o.inOrder} mrg_rxbuf=${+o.mrgRxbuf}`);
  }
  const hdr = info.hdrSize;
  const u16 = mem.u16;
  const u32 = mem.u32;
  const rx = dev.queues[0]!;
  const tx = dev.queues[1]!;
  const walker = (q: FakeQueue) => ({
    mask: q.size - 1,
    availIdxH: (q.avail + AVAIL_IDX) >>> 1,
    availRingH: (q.avail + AVAIL_RING) >>> 1,
    usedIdxH: (q.used + USED_IDX) >>> 1,
    usedRingW: (q.used + USED_RING) >>> 2,
    last: 0,
    used: 0,
  });
  const t = walker(tx);
  const r = walker(rx);
  const inOrder = o.inOrder;
  const rxLen = hdr + FRAME_LEN;
  return {
    mem,
    pool,
    mbufs,
    rxq: RxQueue.attach(mem, portId, 0),
    txq: TxQueue.attach(mem, portId, 0),
    hdr,
    completeTx(): number {
      const avail = Atomics.load(u16, t.availIdxH);
      const n = (avail - t.last) & 0xffff;
      if (n === 0) return 0;
      if (inOrder) {
        // One used entry for the batch: the id of its last chain (virtio 1.2 §2.7.9).
        const head = u16[t.availRingH + ((avail - 1) & t.mask)]!;
        const e = t.usedRingW + 2 * ((t.used + n - 1) & t.mask);
        u32[e] = head;
        u32[e + 1] = 0;
      } else {
        for (let i = 0; i < n; i++) {
          const e = t.usedRingW + 2 * ((t.used + i) & t.mask);
          u32[e] = u16[t.availRingH + ((t.last + i) & t.mask)]!;
          u32[e + 1] = 0;
        }
      }
      t.last = avail;
      t.used = (t.used + n) & 0xffff;
      Atomics.store(u16, t.usedIdxH, t.used);
      return n;
    },
    deliverRx(want: number): number {
      const avail = Atomics.load(u16, r.availIdxH);
      let n = (avail - r.last) & 0xffff;
      if (n > want) n = want;
      for (let i = 0; i < n; i++) {
        const e = r.usedRingW + 2 * ((r.used + i) & r.mask);
        u32[e] = u16[r.availRingH + ((r.last + i) & r.mask)]!;
        u32[e + 1] = rxLen;
      }
      r.last = (r.last + n) & 0xffff;
      r.used = (r.used + n) & 0xffff;
      Atomics.store(u16, r.usedIdxH, r.used);
      return n;
    },
    close(): void {
      port.stop();
      port.close();
      if (pool.inUse() !== 0) throw new Error(`pmdRig: ${pool.inUse()} mbufs not returned`);
    },
  };
}

import { Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import {
  type Features,
  NET_DATA_FEATURES,
  features,
} from "@tpdk/virtio";
import type { VirtioPmdOptions } from "@tpdk/virtio-pmd";
import { type PortInfo, VirtioPort } from "@tpdk/virtio-pmd";
import { RxQueue } from "@tpdk/virtio-pmd";
import { InProcessTransport } from "@tpdk/virtio-pmd";
import { TxQueue } from "@tpdk/virtio-pmd";
import { type FakeDeviceOptions, FakeNetDevice } from "./fake-device.js";

/** A fake device offering the data-path features (@tpdk/virtio NET_DATA_FEATURES; no control queue). */
export const ALL_FEATURES: Features = features(...Object.values(NET_DATA_FEATURES));

/** A port probed on a fake device, with a pool and the mbuf accessors (see also mq-port.ts). */
export interface FakePort {
  mem: Memory;
  dev: FakeNetDevice;
  transport: InProcessTransport;
  port: VirtioPort;
  pool: Mempool;
  mbufs: Mbufs;
}

/** A FakePort started with one RX and one TX queue. */
export interface Rig extends FakePort {
  info: PortInfo;
  rxq: RxQueue;
  txq: TxQueue;
  hdr: number;
  /** rx vq 0, tx vq 1 */
  rxVq: number;
  txVq: number;
}

export interface RigOptions {
  device?: Partial<FakeDeviceOptions>;
  pmd?: VirtioPmdOptions;
  poolSize?: number;
  dataRoom?: number;
  rxDesc?: number;
  txDesc?: number;
  txFreeThresh?: number;
  memMb?: number;
  /** The transport's VirtioTransport.kickFdAddr (a vhost-user transport's kick-fd words); absent: the doorbell kicks. */
  kickFdAddr?: (queueNotifyOff: number) => number;
  /** Memory to use (default: a new one of memMb). */
  mem?: Memory;
}

/** Memory + fake device + probed, configured and started port with 1 rx and 1 tx queue. */
export function rig(o: RigOptions = {}): Rig {
  const mem = o.mem ?? Memory.create((o.memMb ?? 48) << 20);
  const dev = new FakeNetDevice(mem, { offered: ALL_FEATURES, mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], ...o.device });
  const transport = new InProcessTransport(mem, dev.region, dev, "virtio0");
  if (o.kickFdAddr) (transport as { kickFdAddr?: (q: number) => number }).kickFdAddr = o.kickFdAddr;
  const port = VirtioPort.probe(mem, { portId: 0, transport, options: { queueSize: 64, ...o.pmd } });
  const popts: { n: number; cacheSize: number; debug: boolean; dataRoomSize?: number } = { n: o.poolSize ?? 512, cacheSize: 0, debug: true };
  if (o.dataRoom !== undefined) popts.dataRoomSize = o.dataRoom;
  const pool = Mempool.create(mem, "pool0", popts);
  port.configure(1, 1);
  const rxc: { pool: Mempool; nbDesc?: number } = { pool };
  if (o.rxDesc !== undefined) rxc.nbDesc = o.rxDesc;
  port.rxQueueSetup(0, rxc);
  const txc: { nbDesc?: number; txFreeThresh?: number } = {};
  if (o.txDesc !== undefined) txc.nbDesc = o.txDesc;
  if (o.txFreeThresh !== undefined) txc.txFreeThresh = o.txFreeThresh;
  port.txQueueSetup(0, txc);
  const info = port.start();
  return {
    mem,
    dev,
    transport,
    port,
    pool,
    mbufs: new Mbufs(mem),
    info,
    rxq: RxQueue.attach(mem, 0, 0),
    txq: TxQueue.attach(mem, 0, 0),
    hdr: info.hdrSize,
    rxVq: 0,
    txVq: 1,
  };
}

/** A frame of `len` bytes: dst MAC, src MAC, ethertype 0x88b5, then a pattern from `seed`. */
export function frame(len: number, seed: number, dst: number[] = [0x02, 0, 0, 0, 0, 1]): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst.slice(0, Math.min(6, len)), 0);
  if (len >= 12) f.set([0x02, 0, 0, 0, 0, 2], 6);
  if (len >= 14) {
    f[12] = 0x88;
    f[13] = 0xb5;
  }
  for (let i = 14; i < len; i++) f[i] = (seed * 31 + i * 7) & 0xff;
  return f;
}

/**
 * rig(o) with its TX queue bound to its zone: one frame sent and taken back by the device, so that
 * the queue's kick() and kickOrPrime() can be called directly (the kick tests).
 */
export function txBoundRig(o: RigOptions = {}): Rig {
  const r = rig(o);
  r.txq.txBurst(Uint32Array.of(toMbuf(r, frame(64, 1))), 1);
  r.dev.drainTx(r.txVq);
  return r;
}

/** Copy `bytes` into a fresh chain of mbufs with `segs` segments (as even as possible). */
export function toMbuf(r: Rig, bytes: Uint8Array, segs = 1): number {
  const { pool, mbufs } = r;
  const per = Math.ceil(bytes.length / segs);
  let head = 0;
  let off = 0;
  for (let s = 0; s < segs; s++) {
    const m = pool.alloc();
    if (m === 0) throw new Error("pool empty");
    const n = Math.min(per, bytes.length - off);
    r.mem.u8.set(bytes.subarray(off, off + n), mbufs.dataAddr(m));
    mbufs.setDataLen(m, n);
    mbufs.setPktLen(m, n);
    off += n;
    if (head === 0) head = m;
    else mbufs.chain(head, m);
  }
  return head;
}

/** The bytes of an mbuf chain. */
export function fromMbuf(r: Rig, m: number): Uint8Array {
  const { mbufs } = r;
  const out: number[] = [];
  for (let s = m; s !== 0; s = mbufs.next(s)) {
    const a = mbufs.dataAddr(s);
    for (let i = 0; i < mbufs.dataLen(s); i++) out.push(r.mem.u8[a + i]!);
  }
  return Uint8Array.from(out);
}

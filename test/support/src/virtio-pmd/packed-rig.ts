/**
 * virtio-pmd's packed rings (virtio 1.2 §2.8) against the real device core,
 * and against a device that writes nonsense into the rings: the rig, and a
 * fast-check scenario with its invariants. Used by virtio-pmd's unit tests
 * (packages/virtio-pmd/src/packed.test.ts) and by `pnpm fuzz`.
 */
import * as fc from "fast-check";
import { Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { Vhost } from "@tpdk/vhost";
import * as v from "@tpdk/virtio";
import {
  InProcessTransport, PackedTxQueue, Q_DESC, VirtioPort, type VirtioPmdOptions, type VirtioTransport, attachRxQueue, attachTxQueue,
} from "@tpdk/virtio-pmd";
import { testWireSpec } from "../vhost/test-wire.js";
import { TrapClient } from "../vhost/trap-client.js";

export function frameOf(len: number, seed: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5]);
  for (let i = 14; i < len; i++) f[i] = (seed * 31 + i) & 0xff;
  return f;
}

/**
 * A started port on packed rings (packed_vq=1) facing the real device core in this thread, stepped
 * by hand (loop.pass()): one RX and one TX queue of `size`, a debug pool (a double free throws),
 * the queues attached, the zones and xstats at hand.
 */
export function packedRig(size: number, frames: Uint8Array[], pmd: VirtioPmdOptions = {}, o: { ringReset?: boolean; repeat?: number } = {}) {
  const mem = Memory.create(32 << 20);
  const vhost = new Vhost(mem);
  // repeat: how many times the wire goes through `frames` (0: forever, for long runs; default once).
  const gen = testWireSpec(mem, "pk.wire", frames, { gated: true, recordBytes: 1 << 20, repeat: o.repeat ?? 1 });
  const dev = vhost.addDevice({ name: "virtio0", wire: gen, queuePairs: 1, maxQueueSize: 512, offer: { RING_PACKED: true } });
  const loop = vhost.createLoop();
  const client = new TrapClient(mem, dev.transportOffset, () => loop.pass());
  // Control-queue kicks step the device too (the driver polls for the answer right after kicking).
  const handler = {
    read: (sp: number, off: number, w: number) => client.read(sp, off, w),
    write: (sp: number, off: number, w: number, val: number) => client.write(sp, off, w, val),
    kicked: () => loop.pass(),
  };
  const transport = new InProcessTransport(mem, dev.transportOffset, handler, "virtio0");
  // ringReset: the transport takes the port's ring reset (VirtioTransport.onRingsLost), and ringsLost() runs it,
  // as net_virtio_user does when a packed ring's back-end comes back.
  let ringReset: (() => void) | null = null;
  if (o.ringReset) (transport as VirtioTransport).onRingsLost = (fn) => (ringReset = fn);
  const port = VirtioPort.probe(mem, { portId: 0, transport, options: { queueSize: size, packedVq: true, ...pmd } });
  const pool = Mempool.create(mem, "pk", { n: 4 * size + 256, cacheSize: 0, debug: true });
  port.configure(1, 1);
  port.rxQueueSetup(0, { pool });
  port.txQueueSetup(0);
  const info = port.start();
  const rxq = attachRxQueue(mem, 0, 0);
  const txq = attachTxQueue(mem, 0, 0);
  const zoneOf = (tx: boolean): number => mem.lookup(`vpmd0.${tx ? "tx" : "rx"}q0.${size}p`)!.offset;
  const xs = (name: string): number => port.xstats().find((s) => s.name === name)!.value;
  const ringsLost = (): void => ringReset?.();
  return { mem, vhost, dev, loop, port, pool, info, rxq, txq, gen, mbufs: new Mbufs(mem), zoneOf, xs, ringsLost, pass: (n = 1) => { for (let i = 0; i < n; i++) loop.pass(); } };
}

export type PackedRig = ReturnType<typeof packedRig>;

/**
 * A device's RX write into the buffer posted at `addr`: a 12-byte virtio-net header (num_buffers
 * `numBuffers`, the rest 0) and frameOf(`frameLen`, `seed`) behind it; nothing when no buffer is
 * posted there (addr 0) or the frame would run past the memory.
 */
function writeRxFrame(mem: Memory, addr: number, frameLen: number, numBuffers: number, seed: number): void {
  if (addr === 0 || addr + 12 + frameLen > mem.size) return;
  mem.u8.fill(0, addr, addr + 12);
  mem.u8[addr + 10] = numBuffers;
  mem.u8.set(frameOf(frameLen, seed), addr + 12);
}

/**
 * An honest device's next used descriptor on a packed queue (zone: the queue's zone, cur: the device's
 * [position, wrap counter], moved on): the posted id kept; on RX a `frameLen`-byte frame behind a
 * 12-byte header with num_buffers 1 in the buffer posted there, on TX len 0.
 */
export function writeHonestUsed(mem: Memory, zone: number, size: number, cur: number[], tx: boolean, frameLen: number): void {
  const pos = cur[0]!;
  const d = mem.u32[(zone + Q_DESC) >>> 2]! + 16 * pos;
  const addr = mem.u32[d >>> 2]!;
  if (!tx) writeRxFrame(mem, addr, frameLen, 1, pos);
  mem.u32[(d + 8) >>> 2] = tx ? 0 : 12 + frameLen;
  // Pairs with the driver's Atomics.load of the flags at its used position (§2.8.1: AVAIL = USED = wrap).
  Atomics.store(mem.u16, (d + 14) >>> 1, v.packedUsedFlags(cur[1]!) | (tx ? 0 : v.VRING_DESC_F_WRITE));
  if (++cur[0]! === size) {
    cur[0] = 0;
    cur[1]! ^= 1;
  }
}

// ---------------------------------------------------------------- a hostile device

/**
 * One thing the "device" writes at a ring position: a used descriptor with the posted id or another
 * (small, or any 16 bits), a plausible len or any, AVAIL/USED in any of the four combinations; on RX
 * optionally a frame (with any num_buffers) in the buffer posted there.
 */
const writeArb = fc.record({
  /** An honest device's next used descriptor on that queue (its own cursor; the other fields unused but `frameLen`). */
  honest: fc.boolean(),
  tx: fc.boolean(),
  pos: fc.nat(0xffff),
  frame: fc.boolean(),
  frameLen: fc.integer({ min: 14, max: 200 }),
  nb: fc.nat(2),
  idKind: fc.constantFrom(0, 0, 0, 1, 2),
  id: fc.nat(0xffff),
  lenKind: fc.constantFrom(0, 0, 1),
  len: fc.nat(0xffff),
  flags: fc.nat(3),
  writable: fc.boolean(),
});

const roundArb = fc.record({
  writes: fc.array(writeArb, { minLength: 1, maxLength: 6 }),
  rxN: fc.integer({ min: 1, max: 64 }),
  /** Bit i: keep the i-th received mbuf (else freed at once). */
  keep: fc.nat(0xffffffff),
  send: fc.boolean(),
  cleanup: fc.boolean(),
});

/** Rounds of hostile used descriptors on both packed queues, with RX bursts and TX sends between. */
export const packedDriverScenarioArb = fc.record({
  inOrder: fc.boolean(),
  size: fc.constantFrom(8, 16, 32, 100),
  rounds: fc.array(roundArb, { minLength: 1, maxLength: 60 }),
});
export type PackedDriverScenario = typeof packedDriverScenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** What the driver did over many scenarios (coverage figures for the fuzz report). */
export interface PackedDriverStats {
  scenarios: number;
  received: number;
  sent: number;
  ierrors: number;
  oerrors: number;
}

export function newPackedDriverStats(): PackedDriverStats {
  return { scenarios: 0, received: 0, sent: 0, ierrors: 0, oerrors: 0 };
}

const FLAGS = [v.VRING_PACKED_DESC_F_AVAIL, v.VRING_PACKED_DESC_F_USED, 0, v.VRING_PACKED_DESC_F_AVAIL | v.VRING_PACKED_DESC_F_USED];

/**
 * Run one scenario; throws (Error naming the broken invariant) when the driver threw (the debug
 * pool throws on a double free), handed out an mbuf the app still held, or left an mbuf out of the
 * pool after stop().
 */
export function runPackedDriverScenario(s: PackedDriverScenario, stats?: PackedDriverStats): void {
  const r = packedRig(s.size, [], { inOrder: s.inOrder });
  const { mem, mbufs } = r;
  const held = new Set<number>();
  const arr = new Uint32Array(64);
  const zones = [r.zoneOf(false), r.zoneOf(true)];
  let received = 0;
  let sent = 0;
  // The honest device's used position and wrap counter per queue (RX, TX): one descriptor per buffer
  // (RX buffers are single descriptors; the one-segment frames sent here take one, push or indirect).
  const cur = [[0, 1], [0, 1]];
  for (const round of s.rounds) {
    for (const w of round.writes) {
      if (w.honest) {
        writeHonestUsed(mem, zones[w.tx ? 1 : 0]!, s.size, cur[w.tx ? 1 : 0]!, w.tx, w.frameLen);
        continue;
      }
      const pos = w.pos % s.size;
      const d = mem.u32[(zones[w.tx ? 1 : 0]! + Q_DESC) >>> 2]! + 16 * pos;
      const postedId = mem.u16[(d + 12) >>> 1]!;
      const addr = mem.u32[d >>> 2]!;
      if (!w.tx && w.frame) writeRxFrame(mem, addr, w.frameLen, w.nb, pos);
      mem.u16[(d + 12) >>> 1] = w.idKind === 0 ? postedId : w.idKind === 1 ? w.id % 40 : w.id;
      mem.u32[(d + 8) >>> 2] = w.lenKind === 0 ? 12 + w.frameLen : w.len;
      // Pairs with the driver's Atomics.load of the flags at its used position.
      Atomics.store(mem.u16, (d + 14) >>> 1, FLAGS[w.flags]! | (w.writable ? v.VRING_DESC_F_WRITE : 0));
    }
    const n = r.rxq.rxBurst(arr, round.rxN);
    for (let i = 0; i < n; i++) {
      const m = arr[i]!;
      must(!held.has(m), `rxBurst handed out mbuf ${m}, which the app still holds`);
      received++;
      if (i < 32 && ((round.keep >>> i) & 1) === 1) held.add(m);
      else mbufs.free(m);
    }
    if (round.send) {
      const m = r.pool.alloc();
      if (m !== 0) {
        mbufs.append(m, 60);
        if (r.txq.txBurst(Uint32Array.of(m), 1) === 0) mbufs.free(m);
        else sent++;
      }
    }
    if (round.cleanup) (r.txq as PackedTxQueue).cleanup();
  }
  const st = r.port.stats();
  for (const m of held) mbufs.free(m);
  r.port.stop();
  must(r.pool.available() === r.pool.size, `after stop ${r.pool.available()} of ${r.pool.size} mbufs are in the pool`);
  r.port.close();
  if (stats) {
    stats.scenarios++;
    stats.received += received;
    stats.sent += sent;
    stats.ierrors += st.ierrors;
    stats.oerrors += st.oerrors;
  }
}

function must(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

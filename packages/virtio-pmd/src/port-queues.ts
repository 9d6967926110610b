import { type Memory, TpdkError } from "@tpdk/eal";
import { type Mbufs, Mempool, PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import { AVAIL_IDX, ETH_MAX_FRAME, USED_IDX, VIRTIO_F_EVENT_IDX, VIRTIO_NET_F_MRG_RXBUF, rxQueueIndex, txQueueIndex } from "@tpdk/virtio";
import { queueMaxSize, setupQueue } from "./bringup.js";
import type { DeviceInit } from "./device-init.js";
import { IDLE_QUEUE_SIZE, programIdleQueue } from "./idle-queue.js";
import { Q_AVAIL, Q_DESC, Q_FREE_THRESH, Q_KICK_FD, Q_NOTIFY, Q_POOL_ID, Q_POOL_NAME, Q_POOL_NAME_BYTES, Q_STATS, Q_USED, S_RESET_DROPPED } from "./layout.js";
import type { PortTableEntry } from "./port-table.js";
import {
  type QueueHeader, closeQueue, fillRx, openQueue, parkQueue, queueParked, releaseQueue, reserveQueueZone, resetRing,
  unparkQueue, writeQueueHeader,
} from "./queue-zone.js";
import type { VirtioTransport } from "./transport.js";

interface QueueSlot {
  zone: number;
  size: number;
  pool?: Mempool;
  /** queue_notify_off the device reported at the last start (control-path kicks). */
  notifyOff: number;
}

/** A word nobody notifies: Atomics.wait on it is a sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * The port's queues as the main thread sees them (DPDK's dev->data->rx_queues /
 * tx_queues): counts, set-up zones, and each step of their life across starts
 * (program into the device, open to the lcores, close, take every mbuf back).
 * The lcores drive the same zones through RxQueue/TxQueue objects.
 */
export class PortQueues {
  readonly #name: string;
  readonly #mem: Memory;
  readonly #mbufs: Mbufs;
  readonly #portId: number;
  readonly #entry: PortTableEntry;
  readonly #init: DeviceInit;
  readonly #t: VirtioTransport;
  readonly #txMode: number;
  readonly #defaultSize: number;
  #nbRx = 0;
  #nbTx = 0;
  readonly #rx: (QueueSlot | undefined)[] = [];
  readonly #tx: (QueueSlot | undefined)[] = [];

  constructor(
    name: string, mem: Memory, mbufs: Mbufs, portId: number, entry: PortTableEntry, init: DeviceInit,
    transport: VirtioTransport, opts: { txMode: number; queueSize: number },
  ) {
    this.#name = name;
    this.#mem = mem;
    this.#mbufs = mbufs;
    this.#portId = portId;
    this.#entry = entry;
    this.#init = init;
    this.#t = transport;
    this.#txMode = opts.txMode;
    this.#defaultSize = opts.queueSize;
  }

  get nbRx(): number {
    return this.#nbRx;
  }
  get nbTx(): number {
    return this.#nbTx;
  }
  /** Queue pairs start() enables: max(nbRx, nbTx). */
  get pairs(): number {
    return Math.max(this.#nbRx, this.#nbTx);
  }

  /** New queue counts (checked by the caller); every queue must be set up again. */
  configure(nbRx: number, nbTx: number): void {
    this.#nbRx = nbRx;
    this.#nbTx = nbTx;
    this.#rx.length = 0;
    this.#tx.length = 0;
    this.#entry.publishQueueCounts(nbRx, nbTx);
  }

  /** rte_eth_rx_queue_setup. Buffers are posted at start. */
  setupRx(q: number, poolArg: Mempool | string, nbDesc: number | undefined): void {
    if (!Number.isInteger(q) || q < 0 || q >= this.#nbRx) throw new TpdkError("EINVAL", `${this.#name}: rx queue ${q} not configured (have ${this.#nbRx})`);
    const pool = typeof poolArg === "string" ? Mempool.lookup(this.#mem, poolArg) : poolArg;
    const mrg = this.#init.has(VIRTIO_NET_F_MRG_RXBUF);
    const room = pool.dataRoomSize - PKTMBUF_HEADROOM;
    const need = mrg ? 64 : Math.max(ETH_MAX_FRAME, this.#init.mtu + 14);
    if (room < need) {
      throw new TpdkError(
        "EINVAL",
        `${this.#name}: mempool "${pool.name}" has ${room} bytes after the ${PKTMBUF_HEADROOM}-byte headroom; rx queue needs ${need}${mrg ? "" : " (whole frames: MRG_RXBUF not negotiated)"}`,
      );
    }
    const vq = rxQueueIndex(q);
    const size = this.#queueSize(vq, nbDesc);
    const zone = reserveQueueZone(this.#mem, this.#entry.queueZone(false, q), this.#portId, false, q, size, this.#init.packed);
    const u32 = this.#mem.u32;
    writeQueueHeader(this.#mem, zone, this.#header(vq, q, size, false));
    u32[(zone + Q_POOL_ID) >>> 2] = pool.id;
    const nameBytes = new TextEncoder().encode(pool.name).subarray(0, Q_POOL_NAME_BYTES - 1);
    this.#mem.u8.fill(0, zone + Q_POOL_NAME, zone + Q_POOL_NAME + Q_POOL_NAME_BYTES);
    this.#mem.u8.set(nameBytes, zone + Q_POOL_NAME);
    this.#rx[q] = { zone, size, pool, notifyOff: 0 };
    this.#entry.publishQueueZone(false, q, zone);
  }

  /** rte_eth_tx_queue_setup. */
  setupTx(q: number, nbDesc: number | undefined, txFreeThresh: number | undefined): void {
    if (!Number.isInteger(q) || q < 0 || q >= this.#nbTx) throw new TpdkError("EINVAL", `${this.#name}: tx queue ${q} not configured (have ${this.#nbTx})`);
    const vq = txQueueIndex(q);
    const size = this.#queueSize(vq, nbDesc);
    const thresh = txFreeThresh ?? Math.min(size >>> 2, 32);
    if (!Number.isInteger(thresh) || thresh < 1 || thresh >= size) {
      throw new TpdkError("EINVAL", `${this.#name}: txFreeThresh ${thresh} must be in 1..${size - 1}`);
    }
    const zone = reserveQueueZone(this.#mem, this.#entry.queueZone(true, q), this.#portId, true, q, size, this.#init.packed);
    writeQueueHeader(this.#mem, zone, this.#header(vq, q, size, true));
    this.#mem.u32[(zone + Q_FREE_THRESH) >>> 2] = thresh;
    this.#tx[q] = { zone, size, notifyOff: 0 };
    this.#entry.publishQueueZone(true, q, zone);
  }

  /** Every configured queue is set up (start), else ESTATE naming the first missing one. */
  requireAllSetUp(): void {
    for (let q = 0; q < this.#nbRx; q++) if (!this.#rx[q]) throw new TpdkError("ESTATE", `${this.#name}: rx queue ${q} is not set up`);
    for (let q = 0; q < this.#nbTx; q++) if (!this.#tx[q]) throw new TpdkError("ESTATE", `${this.#name}: tx queue ${q} is not set up`);
  }

  /**
   * Program every queue into the device (before DRIVER_OK): ring reset, addresses, enable;
   * RX rings filled with mbufs. §5.1.6.5.5: VQ_PAIRS_SET(n) enables both queues of n pairs,
   * and the driver MUST have configured them: a pair set up on one side only gets an empty
   * queue on the other.
   */
  program(): void {
    for (let q = 0; q < this.#nbRx; q++) this.#programQueue(this.#rx[q]!, rxQueueIndex(q), false);
    for (let q = 0; q < this.#nbTx; q++) this.#programQueue(this.#tx[q]!, txQueueIndex(q), true);
    for (let p = 0; p < this.pairs; p++) {
      if (p >= this.#nbRx) this.#programIdle(rxQueueIndex(p));
      if (p >= this.#nbTx) this.#programIdle(txQueueIndex(p));
    }
  }

  /**
   * Tell the device its receive buffers are there (DPDK notifies every RX queue at start): a
   * device that waits for a kick before looking at a ring would otherwise never see them.
   */
  kickRx(): void {
    for (let q = 0; q < this.#nbRx; q++) this.#t.kick(this.#rx[q]!.notifyOff);
  }

  /** Open the queues to the lcores: a new run generation per queue. */
  open(): void {
    for (let q = 0; q < this.#nbRx; q++) openQueue(this.#mem, this.#rx[q]!.zone);
    for (let q = 0; q < this.#nbTx; q++) openQueue(this.#mem, this.#tx[q]!.zone);
  }

  /** Close them: lcores' bursts return 0, every claim is gone. */
  close(): void {
    for (let q = 0; q < this.#nbRx; q++) closeQueue(this.#mem, this.#rx[q]!.zone);
    for (let q = 0; q < this.#nbTx; q++) closeQueue(this.#mem, this.#tx[q]!.zone);
  }

  /** Wait until the device has used every TX descriptor made available, or `deadline` (Date.now() ms). */
  drainTx(deadline: number): void {
    const { u16, u32 } = this.#mem;
    for (let q = 0; q < this.#nbTx; q++) {
      const z = this.#tx[q]!.zone;
      const availW = u32[(z + Q_AVAIL) >>> 2]! + AVAIL_IDX;
      const usedW = u32[(z + Q_USED) >>> 2]! + USED_IDX;
      while (Atomics.load(u16, usedW >>> 1) !== Atomics.load(u16, availW >>> 1) && Date.now() < deadline) {
        Atomics.wait(NAP, 0, 0, 1);
      }
    }
  }

  /**
   * After the device reset (or with a dead device): free every mbuf the set-up queues'
   * descriptors still own. Each owner slot is cleared once, so this frees nothing twice.
   */
  release(): void {
    for (let q = 0; q < this.#nbRx; q++) if (this.#rx[q]) releaseQueue(this.#mem, this.#mbufs, this.#rx[q]!.zone);
    for (let q = 0; q < this.#nbTx; q++) if (this.#tx[q]) releaseQueue(this.#mem, this.#mbufs, this.#tx[q]!.zone);
  }

  /**
   * The device lost the rings' positions while the port runs (a packed ring's vhost-user back-end
   * came back: a packed ring keeps no index in shared memory to resume from; DPDK's virtio_user
   * resets its packed queues the same way, virtqueue_rxvq_reset_packed): every queue is closed,
   * and once each queue object that drove it has left its bursts (the parked word, or `waitMs`),
   * every mbuf the ring held goes back to its pool, each once. The object takes back what the
   * device used before it parks (QueueBase.onPark: TX frames it sent; RX frames no burst received,
   * counted in rx_qN_reset_dropped_packets); this frees what the owner tables still hold: TX frames
   * the old back-end never used (counted in tx_qN_reset_dropped_packets), RX buffers it never
   * used (empty: no frame, not counted). An object that did not park in time took nothing back:
   * its RX frames are freed here uncounted (the main thread does not know its used position).
   * The ring starts over as at start (§2.8: zeroed, wrap counters 1), RX is refilled, and the
   * queue opens in a new run (the lcores' objects resync on their own).
   * Main thread, cold. Returns the number of queues that did not park in time (0 normally).
   */
  resetRings(waitMs: number): number {
    const slots: [QueueSlot, boolean][] = [];
    for (let q = 0; q < this.#nbRx; q++) slots.push([this.#rx[q]!, false]);
    for (let q = 0; q < this.#nbTx; q++) slots.push([this.#tx[q]!, true]);
    const driven = slots.map(([s]) => parkQueue(this.#mem, s.zone) !== 0);
    const deadline = Date.now() + waitMs;
    let late = 0;
    slots.forEach(([s], i) => {
      if (!driven[i]) return;
      while (!queueParked(this.#mem, s.zone) && Date.now() < deadline) Atomics.wait(NAP, 0, 0, 1);
      if (!queueParked(this.#mem, s.zone)) late++;
    });
    for (const [s, tx] of slots) {
      closeQueue(this.#mem, s.zone);
      const freed = releaseQueue(this.#mem, this.#mbufs, s.zone);
      // The main thread is this slot's only writer (the lcore writes the others, and is parked now).
      if (tx) this.#mem.f64[((s.zone + Q_STATS) >>> 3) + S_RESET_DROPPED] += freed;
      unparkQueue(this.#mem, s.zone);
      resetRing(this.#mem, s.zone, tx);
      if (!tx) fillRx(this.#mem, this.#mbufs, s.zone, s.pool!);
    }
    this.open();
    return late;
  }

  /** Zones of the set-up queues (statistics). */
  zones(tx: boolean): number[] {
    const slots = tx ? this.#tx.slice(0, this.#nbTx) : this.#rx.slice(0, this.#nbRx);
    return slots.map((s) => s?.zone ?? 0).filter((z) => z !== 0);
  }

  /** Zone of queue q, or 0 when it is not set up. */
  zone(tx: boolean, q: number): number {
    return (tx ? this.#tx : this.#rx)[q]?.zone ?? 0;
  }

  sizes(tx: boolean): number[] {
    return (tx ? this.#tx.slice(0, this.#nbTx) : this.#rx.slice(0, this.#nbRx)).map((s) => s?.size ?? 0);
  }

  #header(vq: number, queue: number, size: number, tx: boolean): QueueHeader {
    return {
      vq,
      portId: this.#portId,
      queue,
      size,
      tx,
      flags: this.#init.queueFlags,
      hdrSize: this.#init.hdrSize,
      txMode: this.#txMode,
      doorbell: this.#t.doorbellAddr(),
      interrupt: this.#t.interruptAddr(vq),
    };
  }

  /** Reset the ring, tell the device where it is (traps), post RX buffers. */
  #programQueue(slot: QueueSlot, vq: number, tx: boolean): void {
    const u32 = this.#mem.u32;
    const w = slot.zone >>> 2;
    resetRing(this.#mem, slot.zone, tx);
    const notifyOff = setupQueue(this.#t, vq, slot.size, u32[w + (Q_DESC >>> 2)]!, u32[w + (Q_AVAIL >>> 2)]!, u32[w + (Q_USED >>> 2)]!);
    slot.notifyOff = notifyOff;
    u32[w + (Q_NOTIFY >>> 2)] = this.#t.notifyAddr(notifyOff);
    u32[w + (Q_KICK_FD >>> 2)] = this.#t.kickFdAddr?.(notifyOff) ?? 0;
    if (!tx) fillRx(this.#mem, this.#mbufs, slot.zone, slot.pool!);
  }

  /**
   * Configure virtqueue `vq` as an empty queue nobody drives: the other half
   * of a pair the app set up on one side only (program()). A device may steer
   * frames to such a receive queue and drop them for want of buffers (DPDK
   * behaves the same): configure as many RX queues as pairs to avoid it.
   */
  #programIdle(vq: number): void {
    const max = queueMaxSize(this.#t, vq);
    if (max === 0) throw new TpdkError("EQUEUE", `${this.#name}: device has no virtqueue ${vq}`);
    let size = 1;
    while (size * 2 <= max && size < IDLE_QUEUE_SIZE) size *= 2;
    programIdleQueue(this.#mem, this.#t, this.#portId, vq, size, this.#init.has(VIRTIO_F_EVENT_IDX), this.#init.packed);
  }

  /**
   * Queue size for `vq`: requested (or queue_size=), capped at the device's maximum. Split
   * rings: a power of two (§2.7). Packed rings: any size (§2.8.10.1), capped at the maximum itself.
   */
  #queueSize(vq: number, nbDesc: number | undefined): number {
    const want = nbDesc ?? this.#defaultSize;
    if (this.#init.packed) {
      if (!Number.isInteger(want) || want < 8 || want > 32768) throw new TpdkError("EINVAL", `${this.#name}: ${want} descriptors is not in 8..32768`);
      const max = this.#init.step("queue setup", () => queueMaxSize(this.#t, vq));
      if (max === 0) throw new TpdkError("EQUEUE", `${this.#name}: device has no virtqueue ${vq}`);
      return Math.min(want, max);
    }
    if (!Number.isInteger(want) || want < 8 || want > 32768 || (want & (want - 1)) !== 0) {
      throw new TpdkError("EINVAL", `${this.#name}: ${want} descriptors is not a power of two in 8..32768`);
    }
    const max = this.#init.step("queue setup", () => queueMaxSize(this.#t, vq));
    if (max === 0) throw new TpdkError("EQUEUE", `${this.#name}: device has no virtqueue ${vq}`);
    let cap = 1;
    while (cap * 2 <= max && cap < 32768) cap *= 2;
    return Math.min(want, cap);
  }
}

import { type Memory, TpdkError } from "@tpdk/eal";
import { PMD_MAX_QUEUES } from "./layout.js";
import { isPackedQueue } from "./packed-check.js";
import { PackedRxQueue } from "./packed-rxq.js";
import { PackedTxQueue } from "./packed-txq.js";
import { RxQueue } from "./rxq.js";
import { TxQueue } from "./txq.js";

/** Either receive queue class: split (RxQueue) or packed (PackedRxQueue), chosen by the port's negotiation. */
export type AnyRxQueue = RxQueue | PackedRxQueue;
export type AnyTxQueue = TxQueue | PackedTxQueue;

/** Attach this thread's object for rx queue `q` of `port`, split or packed as the port negotiated (cold). */
export function attachRxQueue(mem: Memory, port: number, q: number): AnyRxQueue {
  return isPackedQueue(mem, port, q, false) ? PackedRxQueue.attach(mem, port, q) : RxQueue.attach(mem, port, q);
}

/** Attach this thread's object for tx queue `q` of `port`, split or packed as the port negotiated (cold). */
export function attachTxQueue(mem: Memory, port: number, q: number): AnyTxQueue {
  return isPackedQueue(mem, port, q, true) ? PackedTxQueue.attach(mem, port, q) : TxQueue.attach(mem, port, q);
}

/**
 * The per-thread queue registry behind the DPDK-style rxBurst/txBurst
 * wrappers: queue objects are attached on first use (cold) and kept, indexed
 * by port * PMD_MAX_QUEUES + queue.
 */
let threadMem: Memory | null = null;
const rxqs: (BurstRxQueue | undefined)[] = [];
const txqs: (BurstTxQueue | undefined)[] = [];

/** What rxBurst dispatches to: the PMD's RxQueue, or a queue of another port kind (net_vhost). */
export interface BurstRxQueue {
  readonly queueId: number;
  rxBurst(mbufs: Uint32Array, n: number, off: number): number;
}
export interface BurstTxQueue {
  readonly queueId: number;
  txBurst(mbufs: Uint32Array, n: number, off: number): number;
  /** txFence: the deferred kick check now (queues that defer none may leave it out). */
  fence?(): void;
}

/**
 * Another port kind's queues (e.g. net_vhost, whose ports are not virtio
 * devices): asked first when a queue is attached (cold), null when the port
 * is not of that kind. Registered per thread (the lcore's module calls it).
 * A thread that polls only PMD ports keeps one queue shape at the call site.
 */
export interface QueueAttacher {
  rx(mem: Memory, port: number, queue: number): BurstRxQueue | null;
  tx(mem: Memory, port: number, queue: number): BurstTxQueue | null;
}
const attachers: QueueAttacher[] = [];

export function registerQueueAttacher(a: QueueAttacher): void {
  if (!attachers.includes(a)) attachers.push(a);
}

/**
 * Tell this thread which EAL memory the ports live in. probe() does it on the
 * main thread; an lcore calls it once before its first burst (with ctx.mem).
 */
export function bindThreadMemory(mem: Memory): void {
  if (threadMem !== mem) {
    threadMem = mem;
    rxqs.length = 0;
    txqs.length = 0;
  }
}

function memOrThrow(): Memory {
  if (!threadMem) throw new TpdkError("ESTATE", "virtio-pmd: call bindThreadMemory(mem) in this thread before rxBurst/txBurst");
  return threadMem;
}

/** This thread's RxQueue for (port, queue), attached on first use. Throws ESTATE if the queue is not set up. */
export function rxQueue(port: number, queue: number): BurstRxQueue {
  const q = rxqs[port * PMD_MAX_QUEUES + queue];
  if (q !== undefined && q.queueId === queue) return q;
  for (const at of attachers) {
    const f = at.rx(memOrThrow(), port, queue);
    if (f !== null) return (rxqs[port * PMD_MAX_QUEUES + queue] = f);
  }
  const a = attachRxQueue(memOrThrow(), port, queue);
  rxqs[port * PMD_MAX_QUEUES + queue] = a;
  return a;
}

export function txQueue(port: number, queue: number): BurstTxQueue {
  const q = txqs[port * PMD_MAX_QUEUES + queue];
  if (q !== undefined && q.queueId === queue) return q;
  for (const at of attachers) {
    const f = at.tx(memOrThrow(), port, queue);
    if (f !== null) return (txqs[port * PMD_MAX_QUEUES + queue] = f);
  }
  const a = attachTxQueue(memOrThrow(), port, queue);
  txqs[port * PMD_MAX_QUEUES + queue] = a;
  return a;
}

/**
 * rte_eth_rx_burst(port, queue, mbufs, n): receive up to n (<= 64) packets
 * into mbufs[off..]. Returns how many; the caller owns them (sends or frees
 * each). 0 while the port is stopped. Hot path after the first call.
 */
export function rxBurst(port: number, queue: number, mbufs: Uint32Array, n: number, off = 0): number {
  let q = rxqs[port * PMD_MAX_QUEUES + queue];
  if (q === undefined || queue >= PMD_MAX_QUEUES) q = rxQueue(port, queue);
  return q.rxBurst(mbufs, n, off);
}

/**
 * rte_eth_tx_burst(port, queue, mbufs, n): send mbufs[off..off+n) (<= 64).
 * Returns k: the first k now belong to the driver (freed after the device
 * used them); the caller retries or frees the rest. Hot path after the first call.
 */
export function txBurst(port: number, queue: number, mbufs: Uint32Array, n: number, off = 0): number {
  let q = txqs[port * PMD_MAX_QUEUES + queue];
  if (q === undefined || queue >= PMD_MAX_QUEUES) q = txQueue(port, queue);
  return q.txBurst(mbufs, n, off);
}

/**
 * txFence(port, queue): tpdk's own, no DPDK counterpart (DPDK's virtio PMD fences and checks
 * notification suppression in every burst). The split and packed TX queues on x86 check it behind
 * a full barrier only once per TX_FENCE_FRAMES frames (QueueBase.publishTx, PackedTxQueue), as Linux's virtio-net does
 * once per batch of transmits; call this when the queue goes idle (an application's loop after
 * empty polls: l2fwd does) so a device that went to sleep gets its kick now. Cheap when nothing
 * is unfenced; the main thread's txKickBackstop is the last resort for applications that never
 * call it. Never attaches a queue (a queue no burst has used has nothing unfenced).
 */
export function txFence(port: number, queue: number): void {
  const q = txqs[port * PMD_MAX_QUEUES + queue];
  if (q !== undefined && q.fence !== undefined) q.fence();
}

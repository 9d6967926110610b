import type { Memory } from "@tpdk/eal";
import type { Mempool } from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import * as P from "./packed-rx-consts.js";
import { QueueBase } from "./queue-base.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { VRING_PACKED_DESC_F_AVAIL: F_AVAIL, VRING_PACKED_DESC_F_USED: F_USED } = V;
const { S_BAD_USED_ID } = L;
const { REFILL_CHUNK } = P;

/**
 * The packed RX queue's ring on this thread (virtio 1.2 §2.8), the first of the classes that make
 * up PackedRxQueue (packed-rxq.ts), one concept a file, each extending the one before:
 *
 *   PackedRxRing        packed-rx-ring.ts        the ring's state; the used side one descriptor at a time
 *   PackedRxTouch       packed-rx-touch.ts       touchAhead: the lines of the frames ahead touched at once
 *   PackedRxRefill      packed-rx-refill.ts      refillRing: fresh mbufs posted, one publish per burst
 *   PackedRxValidating  packed-rx-validating.ts  rxValidating: any descriptor, every value checked
 *   PackedRxInOrder     packed-rx-in-order.ts    rxInOrder: IN_ORDER one-buffer frames, burst 32's loop
 *   PackedRxAhead       packed-rx-ahead.ts       rxSmall, takeAhead: batch-ahead for bursts under four
 *   PackedRxQueue       packed-rxq.ts            attach, resync, park, rxBurst (the entry), interrupts
 *   (constants two or more of them use: packed-rx-consts.ts)
 *
 * One object, as DPDK's struct virtnet_rx and its virtqueue are one state with the paths in files
 * of their own. A chain of classes rather than functions over the queue: the methods read the state
 * as `this.x`, as when they were one class (session 36's code, moved, not rewritten), and call each
 * other as `this.f()`, found on the prototype chain (TurboFan folds the lookup as for one class).
 * Each class declares its fields after the one before, in the one class's order, so the object's
 * layout is the same (the fields of QueueBase, then these from pool to aheadPrimes, all in-object).
 *
 * Each posted buffer is one WRITE descriptor carrying a buffer id (its mbuf in owner[id]; under
 * IN_ORDER the id is the buffer's ring position, DPDK's choice, so no table maps positions to ids
 * and the refill takes no id from a stack); the device writes one used descriptor per buffer at our
 * used position.
 */
export abstract class PackedRxRing extends QueueBase {
  protected pool: Mempool | null = null;
  protected poolId = 0;
  /** The refill's chunk when the pool's cache cannot serve (packed-rx-refill.ts). */
  protected readonly refill = new Uint32Array(REFILL_CHUNK);
  protected refillThresh = 1;
  /** The WRITE length each posted buffer gets: the pool's data room past the headroom, plus the header in it. */
  protected postLen = 0;
  protected mrg = false;
  /** Interrupt mode asked for (PackedRxQueue.enableInterrupt). */
  protected interrupts = false;
  /** Next descriptor to make available, and the driver ring wrap counter (§2.8.1). */
  protected availPos = 0;
  protected availWrap = 1;
  /** Next descriptor the device writes used, and the wrap counter it will be used with. */
  protected usedPos = 0;
  protected usedWrap = 1;
  /** u16 index of descriptor 0, of the driver and device event suppression structures. */
  protected descH = 0;
  protected drvEvtH = 0;
  protected devEvtH = 0;
  /** takeUsed's len of the descriptor it took. */
  protected lastLen = 0;

  protected constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId, false);
  }

  /** Is the descriptor at our used position used (§2.8.1: AVAIL and USED both equal to our used wrap counter)? */
  protected usedReady(): boolean {
    // Pairs with the device's Atomics.store of the first used descriptor's flags of its batch, which
    // it issues after writing the batch (and the buffers): what it wrote before is visible now.
    const f = Atomics.load(this.u16, this.descH + (this.usedPos << 3) + 7);
    const w = this.usedWrap !== 0;
    return ((f & F_USED) !== 0) === w && ((f & F_AVAIL) !== 0) === w;
  }

  /** Take the used descriptor at usedPos: its mbuf (0 = bad id, counted), len in this.lastLen. */
  protected takeUsed(): number {
    const u16 = this.u16;
    const h = this.descH + (this.usedPos << 3);
    const id = u16[h + 6]!;
    this.lastLen = this.u32[(h >>> 1) + 2]!;
    let d = id;
    if (this.inOrder) {
      d = this.usedPos;
      if (id !== d) this.f64[this.st + S_BAD_USED_ID] += 1;
    }
    if (++this.usedPos === this.size) {
      this.usedPos = 0;
      this.usedWrap ^= 1;
    }
    if (d >= this.size) {
      this.f64[this.st + S_BAD_USED_ID] += 1;
      return 0;
    }
    const m = this.u32[this.ownerW + d]!;
    if (m === 0) {
      this.f64[this.st + S_BAD_USED_ID] += 1;
      return 0;
    }
    this.u32[this.ownerW + d] = 0;
    this.pending--;
    if (!this.inOrder) this.freeStack[this.freeTop++] = d;
    this.nfree++;
    return m;
  }
}

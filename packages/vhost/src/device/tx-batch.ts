/**
 * The transmit path's batch (tx-path.ts), also the receive path's
 * (rx-path.ts: its fast run of one-writable-descriptor buffers; RX and TX
 * run in turn on the device's thread, so one batch serves both): the chains of
 * one pass that have the commonest shape, one device-readable descriptor
 * holding header and frame (what virtio-pmd's push and in-order paths post),
 * each read and validated once by the ring's takeSimple() (virtqueue.ts,
 * packed-virtqueue.ts) before any frame is looked at. The path then touches
 * every frame of the batch in a loop of its own (the lines the driver's CPU
 * just wrote: their misses overlap instead of the wire waiting for each in
 * turn) and hands them to the wire. One per device, reused every pass;
 * entries [0, n) are those of the last takeSimple().
 */
export class TxBatch {
  /** Buffer id: the head descriptor's index (split) or the descriptor's id field (packed). */
  readonly id: Uint32Array;
  /** Offset of the frame (after the virtio-net header) in the device's memory view. */
  readonly addr: Uint32Array;
  /** Frame length without the header. */
  readonly len: Uint32Array;

  /** `capacity`: the device's burst (no pass takes more chains from one queue). */
  constructor(capacity: number) {
    this.id = new Uint32Array(capacity);
    this.addr = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
  }
}

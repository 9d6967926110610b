import type { Chain } from "./virtqueue.js";
import * as S from "./stats.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { S_ERR_RX_BUFFER_SMALL, S_ERR_RX_READABLE } = S;

/**
 * The buffers (chains or lists) gathered for one frame, whichever ring
 * layout they came from: per buffer its head (split) or buffer id (packed),
 * its avail position (split) or ring descriptors (packed), its segments in
 * the shared Chain, and the bytes written into it (fillBuffers, rx-frame.ts).
 */
export class RxBuffers {
  readonly head: Int32Array;
  readonly pos: Int32Array;
  readonly segStart: Int32Array;
  readonly segEnd: Int32Array;
  readonly len: Int32Array;
  constructor(capacity: number) {
    this.head = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
    this.segStart = new Int32Array(capacity);
    this.segEnd = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
  }
}

/**
 * What an RX buffer must be beyond a valid walk (§5.1.6.3.1): device-writable
 * only, and with MRG_RXBUF large enough for the header (§5.1.6.4). `err` is
 * the walk's result; a buffer found wrong here is taken off the chain (its
 * segments from `segStart` dropped). Returns 0 or an S_ERR_* slot.
 */
export function checkRxBuffer(c: Chain, err: number, segStart: number, mrg: boolean, hdr: number): number {
  if (err !== 0) return err;
  if (c.nRead !== 0) err = S_ERR_RX_READABLE;
  else if (mrg && c.writeBytes < hdr) err = S_ERR_RX_BUFFER_SMALL;
  if (err !== 0) c.n = segStart;
  return err;
}

/** Record buffer `nb` of the frame: its head or id, position or descriptors, and its segments [segStart, segEnd). */
export function addRxBuffer(b: RxBuffers, nb: number, head: number, pos: number, segStart: number, segEnd: number): void {
  b.head[nb] = head;
  b.pos[nb] = pos;
  b.segStart[nb] = segStart;
  b.segEnd[nb] = segEnd;
}

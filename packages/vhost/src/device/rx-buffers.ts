/** The buffers (chains) gathered for one frame: per buffer its head, avail position and segments. */
export class RxBuffers {
  readonly head: Int32Array;
  readonly pos: Int32Array;
  readonly segStart: Int32Array;
  readonly segEnd: Int32Array;
  constructor(capacity: number) {
    this.head = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
    this.segStart = new Int32Array(capacity);
    this.segEnd = new Int32Array(capacity);
  }
}

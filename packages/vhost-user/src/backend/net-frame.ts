/**
 * What net_vhost's two bursts (rx-burst.ts, tx-burst.ts) share: the virtio-net header's layout,
 * the longest frame, and the copy between the front-end's buffers and mbufs. Nothing here allocates.
 */

/** struct virtio_net_hdr_v1 (12 bytes with VERSION_1, virtio 1.2 §5.1.6); num_buffers at 10. */
export const HDR = 12;
export const HDR_NUM_BUFFERS = 10;
/** The longest frame taken from the front-end (a 16-bit length, as the device core's MAX_FRAME). */
export const MAX_FRAME = 65535;
/** A queue's `held`: no chain held over from walkAhead for the one-by-one loop (no walk result is this). */
export const NOT_HELD = -100;

/**
 * The chains a burst walked and holds, sized to the ring (a burst, or one frame under MRG_RXBUF,
 * takes at most a ring of chains): each one's id, descriptors spanned, and end of its segments in
 * the queue's segment list (q.chain).
 */
export class WalkedChains {
  ids = new Uint16Array(0);
  descs = new Uint16Array(0);
  ends = new Uint32Array(0);

  /** Room for a ring of `size` (allocates once per ring size: cold). */
  fit(size: number): void {
    if (this.ids.length >= size) return;
    this.ids = new Uint16Array(size);
    this.descs = new Uint16Array(size);
    this.ends = new Uint32Array(size);
  }
}

/**
 * The chains of a burst that have the commonest shape, one descriptor (a readable one holding
 * header and frame from the front-end's TX ring; a writable one on its RX ring), each read and
 * validated once by the device core's takeSimple (DeviceQueue / PackedDeviceQueue, the fields of
 * its TxBatch): id, offset in the mapping (after `hdr` bytes) and length less `hdr`. Sized to the ring.
 */
export class SimpleChains {
  id = new Uint32Array(0);
  addr = new Uint32Array(0);
  len = new Uint32Array(0);

  /** Room for a ring of `size` (allocates once per ring size: cold). */
  fit(size: number): void {
    if (this.id.length >= size) return;
    this.id = new Uint32Array(size);
    this.addr = new Uint32Array(size);
    this.len = new Uint32Array(size);
  }
}

/** The header's third word for one buffer: csum_offset 0, num_buffers 1 (bytes 10-11, little-endian). */
const ONE_BUFFER_WORD = 1 << 16;

/**
 * The header of a frame that fits one receive buffer, at word `w` (the buffer 4-aligned, as DPDK's
 * RX buffers are: headroom less 12): no offloads, num_buffers 1 (bytes 10-11, little-endian;
 * §5.1.6.4: the device sets it to the buffers used), in three words, each stored only when it does
 * not hold its value already (DPDK's vhost ASSIGN_UNLESS_EQUAL, "to lessen cache issues"): a
 * front-end that reuses its buffers finds the same header there burst after burst, and a line only
 * read stays shared with the front-end's CPU instead of being taken from it for writing.
 */
export function writeOneBufferHeader(g32: Uint32Array<ArrayBufferLike>, w: number): void {
  if (g32[w] !== 0) g32[w] = 0;
  if (g32[w + 1] !== 0) g32[w + 1] = 0;
  if (g32[w + 2] !== ONE_BUFFER_WORD) g32[w + 2] = ONE_BUFFER_WORD;
}

/**
 * Copy `len` bytes between two buffers (no subarray): 4 bytes at a time when both are 4-aligned alike, four
 * words a loop step. In TurboFan's code every step of a typed-array loop checks both arrays' maps and
 * reloads their lengths and data pointers (the step's interrupt check may run anything); a word a step paid
 * that for every word, ~22 instructions a word, over a third of the one-buffer enqueue's samples at burst
 * 32, spread evenly over them (instruction-bound, not waiting on the lines; bench/notes/net-vhost.md
 * "Session 41: net_vhost at burst 32: the frame copy four words a step"). Four words a step pay it once per
 * four; the 0-3 words left are stored without a loop. The word index is `k` from 0 (an induction variable
 * TurboFan bounds by `words`), so `dw + k + 3` needs no overflow check. All four loads precede the stores:
 * the source and the destination are different buffers (a guest buffer and an mbuf); ranges a front-end
 * made overlap would garble only those bytes, nothing outside [d, d + len).
 */
export function copy(dst: Uint8Array<ArrayBufferLike>, dst32: Uint32Array<ArrayBufferLike>, d: number, src: Uint8Array<ArrayBufferLike>, src32: Uint32Array<ArrayBufferLike>, s: number, len: number): void {
  let i = 0;
  if (((d ^ s) & 3) === 0) {
    while (((s + i) & 3) !== 0 && i < len) {
      dst[d + i] = src[s + i]!;
      i++;
    }
    const words = (len - i) >>> 2;
    const dw = (d + i) >>> 2;
    const sw = (s + i) >>> 2;
    i += words << 2;
    const steps4 = words & 0x3ffffffc;
    let k = 0;
    for (; k < steps4; k += 4) {
      const w0 = src32[sw + k]!;
      const w1 = src32[sw + k + 1]!;
      const w2 = src32[sw + k + 2]!;
      const w3 = src32[sw + k + 3]!;
      dst32[dw + k] = w0;
      dst32[dw + k + 1] = w1;
      dst32[dw + k + 2] = w2;
      dst32[dw + k + 3] = w3;
    }
    const rest = words - steps4;
    if (rest !== 0) {
      dst32[dw + k] = src32[sw + k]!;
      if (rest > 1) {
        dst32[dw + k + 1] = src32[sw + k + 1]!;
        if (rest > 2) dst32[dw + k + 2] = src32[sw + k + 2]!;
      }
    }
  }
  for (; i < len; i++) dst[d + i] = src[s + i]!;
}

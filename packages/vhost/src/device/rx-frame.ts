import type { PathDevice } from "./path-device.js";

/**
 * What the RX loop (rx-path.ts) and the two ring layouts' frame placement
 * (rx-split.ts, rx-packed.ts) share: the outcome codes of placing one frame,
 * the virtio_net_hdr a received frame gets, and the copy of a frame into
 * the buffers gathered for it. Nothing here knows a ring layout.
 */

// Outcome of placing one frame (receiveSplit / receivePacked).
/** Written into a buffer (or buffers) and returned used. */
export const DELIVERED = 0;
/** No buffer (or, with MRG_RXBUF, too few): the queue is out of buffers this pass. */
export const MISSED = 1;
/** Without MRG_RXBUF, the buffer is smaller than the frame: dropped, the buffer kept. */
export const NO_FIT = 2;
/** A malformed buffer interrupted the frame: dropped, every buffer taken for it returned with len 0. */
export const DROPPED = 3;
/** The ring cannot be followed (DEVICE_NEEDS_RESET): the RX pass stops. */
export const FATAL = 4;

/**
 * virtio_net_hdr for a received frame (§5.1.6.4): no checksum or GSO offload
 * is negotiable here, so everything is 0 except num_buffers (12-byte header
 * only): the buffers used with MRG_RXBUF, 1 without. Word stores when the
 * header is 4-byte aligned (virtio-pmd's buffers are): the header's line is
 * the lcore CPU's, so every store waits in the store buffer for it, and three
 * word stores hold fewer entries there than twelve byte stores (a fill() call
 * on shared memory costs ~25 ns for these bytes). Little-endian words, as the
 * rings' typed-array views already assume (virtio 1.x is little-endian).
 */
export function writeHeader(u8: Uint8Array, u32: Uint32Array, a: number, hdr: number, numBuffers: number): void {
  if ((a & 3) === 0) {
    const w = a >>> 2;
    u32[w] = 0; // flags, gso_type, hdr_len
    u32[w + 1] = 0; // gso_size, csum_start
    if (hdr === 12) u32[w + 2] = numBuffers << 16; // csum_offset 0, num_buffers (numBuffers < 2^16)
    else {
      u8[a + 8] = 0; // csum_offset
      u8[a + 9] = 0;
    }
    return;
  }
  u8[a] = 0; // flags
  u8[a + 1] = 0; // gso_type
  u8[a + 2] = 0; // hdr_len
  u8[a + 3] = 0;
  u8[a + 4] = 0; // gso_size
  u8[a + 5] = 0;
  u8[a + 6] = 0; // csum_start
  u8[a + 7] = 0;
  u8[a + 8] = 0; // csum_offset
  u8[a + 9] = 0;
  if (hdr === 12) {
    u8[a + 10] = numBuffers & 0xff; // num_buffers, little-endian (VERSION_1)
    u8[a + 11] = numBuffers >>> 8;
  }
}

/**
 * writeHeader(numBuffers 1) at each of addrs[0, n): one call for a run of
 * buffers rather than one per buffer (the RX fast run in rx-path.ts). With
 * `frameWord` (every buffer holds the header and at least 4 frame bytes) the
 * frame's first word is stored too (0; the wire writes the frame over it):
 * the frame's line is then requested with the header's, every buffer's two
 * lines in flight at once, where the frame's line was requested only when the
 * wire's stores reached it, behind the headers' in the store buffer (both
 * lines are the lcore CPU's; bench/notes/pipeline.md, "Session 27: pipeline"). The
 * buffers are the device's until used (a buffer the run gives back untaken
 * is not read by the driver: up to used.idx on a split ring, §2.8.22 on a
 * packed one).
 */
export function writeHeaders(u8: Uint8Array, u32: Uint32Array, addrs: Uint32Array, n: number, hdr: number, frameWord: boolean): void {
  for (let k = 0; k < n; k++) {
    const a = addrs[k]!;
    writeHeader(u8, u32, a, hdr, 1);
    const f = a + hdr;
    if (frameWord && (f & 3) === 0) u32[f >>> 2] = 0;
  }
}

/**
 * Have the wire produce the frame (header + frame = `total` bytes) into the
 * `nb` buffers gathered in dev.rxBufs / dev.chain, and leave in rxBufs.len[k]
 * the bytes written into buffer k (the used length the ring then returns it
 * with). Straight into the first descriptor when header and frame fit it
 * (the common case: no copy), else into the RX scratch area and scattered
 * from there across the buffers' segments in order.
 */
export function fillBuffers(dev: PathDevice, nb: number, total: number): void {
  const b = dev.rxBufs;
  const c = dev.chain;
  const s0 = b.segStart[0]!;
  const { u8, u32, wire, hdrSize: hdr } = dev;
  if (c.len[s0]! >= total) {
    const a = c.addr[s0]!;
    writeHeader(u8, u32, a, hdr, 1);
    wire.produce(u8, a + hdr);
    b.len[0] = total;
    return;
  }
  const src = dev.rxScratch;
  writeHeader(u8, u32, src, hdr, nb);
  wire.produce(u8, src + hdr);
  let off = 0;
  for (let k = 0; k < nb; k++) {
    let written = 0;
    const end = b.segEnd[k]!;
    for (let s = b.segStart[k]!; s < end && off < total; s++) {
      const room = c.len[s]!;
      const l = room < total - off ? room : total - off;
      u8.copyWithin(c.addr[s]!, src + off, src + off + l);
      off += l;
      written += l;
    }
    b.len[k] = written;
  }
}

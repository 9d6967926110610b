import { type Mbufs, M_BUF_ADDR, PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import { NET_HDR_NUM_BUFFERS } from "@tpdk/virtio";

/**
 * The receive buffers a ring reset drops unread (QueueBase.onPark of RxQueue and PackedRxQueue:
 * a packed ring's back-end died and a new one comes, PortQueues.resetRings): each buffer the old
 * device made used that no burst received goes back to its pool here, once, and the frames they
 * held are counted (rx_qN_reset_dropped_packets). The buffers come in the order the device used
 * them; under MRG_RXBUF a frame's first buffer says how many it spans (num_buffers, virtio 1.2
 * §5.1.6.4), the next ones are the rest of that frame. The device is not trusted: a num_buffers
 * outside 1..ring size counts the buffer as a frame of its own. Cold: once per reset.
 */
export class ParkDrop {
  /** Frames dropped so far. */
  frames = 0;
  /** Buffers still to come of the frame being dropped. */
  private rest = 0;

  constructor(
    private readonly mbufs: Mbufs,
    private readonly u8: Uint8Array,
    private readonly u32: Uint32Array,
    private readonly hdr: number,
    private readonly mrg: boolean,
    private readonly size: number,
  ) {}

  /** Buffer `m` (taken back from the ring, its owner slot cleared): freed, its frame counted. */
  drop(m: number): void {
    if (this.rest > 0) this.rest--;
    else {
      this.frames++;
      if (this.mrg) {
        // The header sits at the end of the headroom (the buffer was posted at buf + headroom - hdr).
        const h = this.u32[(m + M_BUF_ADDR) >>> 2]! + PKTMBUF_HEADROOM - this.hdr + NET_HDR_NUM_BUFFERS;
        const nb = this.u8[h]! | (this.u8[h + 1]! << 8);
        if (nb > 1 && nb <= this.size) this.rest = nb - 1;
      }
    }
    this.mbufs.free(m);
  }
}

import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { countFrame, linkRxSegment } from "./frame-steps.js";
import * as L from "./layout.js";
import { PackedRxRefill } from "./packed-rx-refill.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  M_BUF_ADDR, M_BUF_LEN, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_PORT, M_REFCNT, M_OL_FLAGS,
  M_OL_FLAGS_HI, PKTMBUF_HEADROOM,
} = MB;
const { ETH_HDR_LEN, NET_HDR_NUM_BUFFERS } = V;
const { S_BAD_NUM_BUFFERS, S_BAD_USED_LEN, S_BYTES, S_ERRORS, S_PACKETS, S_RUNTS, S_TRUNCATED } = L;

/**
 * The packed RX queue's validating path (PackedRxRing's layers: packed-rx-ring.ts): any descriptor
 * a device writes, one at a time, every value checked before use, chains assembled (MRG_RXBUF); what
 * a hostile or unusual device's ring takes.
 */
export abstract class PackedRxValidating extends PackedRxRefill {
  /**
   * rxBurst's validating loop (no IN_ORDER, or after rxInOrder stopped before a descriptor
   * that is not a plain one-buffer frame of a valid length), from mbufs[off + nrx] on: the
   * first nrx (rxInOrder's) are counted already.
   */
  protected rxValidating(mbufs: Uint32Array, n: number, off: number, nrx: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const hdr = this.hdr;
    const size = this.size;
    const port = this.portId;
    let bytes = 0;
    let errors = 0;
    // The lead is corrected below by what this call took from here on, plus rxInOrder's nrx.
    const pos0 = this.usedPos;
    const wrap0 = this.usedWrap;
    const nrx0 = nrx; // counted by rxInOrder
    // At most the ring per burst, whatever the device writes.
    for (let guard = 0; nrx < n && guard < size && this.pending > 0 && this.usedReady(); guard++) {
      const m = this.takeUsed();
      let len = this.lastLen;
      if (m === 0) {
        errors++;
        continue;
      }
      const maxLen = u16[(m + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr;
      if (len > maxLen) {
        f64[st + S_BAD_USED_LEN] += 1;
        errors++;
        this.mbufs.free(m);
        continue;
      }
      if (len < hdr + ETH_HDR_LEN) {
        f64[st + S_RUNTS] += 1;
        errors++;
        this.mbufs.free(m);
        continue;
      }
      const bufAddr = u32[(m + M_BUF_ADDR) >>> 2]!;
      let nb = 1;
      if (this.mrg) {
        const h = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
        nb = u8[h]! | (u8[h + 1]! << 8);
        if (nb === 0 || nb > size) {
          f64[st + S_BAD_NUM_BUFFERS] += 1;
          errors++;
          this.mbufs.free(m);
          continue;
        }
      }
      let pktLen = len - hdr;
      // refcnt and ol_flags as alloc() leaves them (the refill did not touch the mbuf).
      u16[(m + M_REFCNT) >>> 1] = 1;
      u32[(m + M_OL_FLAGS) >>> 2] = 0;
      u32[(m + M_OL_FLAGS_HI) >>> 2] = 0;
      u16[(m + M_DATA_OFF) >>> 1] = PKTMBUF_HEADROOM;
      u16[(m + M_DATA_LEN) >>> 1] = pktLen;
      u16[(m + M_NB_SEGS) >>> 1] = nb;
      u16[(m + M_PORT) >>> 1] = port;
      u32[(m + M_NEXT) >>> 2] = 0;
      if (nb > 1) {
        // §2.8.9: the device marked the first buffer used after the rest: they are all there.
        let prev = m;
        let ok = true;
        for (let k = 1; k < nb; k++) {
          if (this.pending === 0 || !this.usedReady()) {
            f64[st + S_TRUNCATED] += 1;
            ok = false;
            break;
          }
          const s = this.takeUsed();
          len = this.lastLen;
          if (s === 0) {
            ok = false;
            continue;
          }
          if (len > u16[(s + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr) {
            f64[st + S_BAD_USED_LEN] += 1;
            ok = false;
            this.mbufs.free(s);
            continue;
          }
          linkRxSegment(u16, u32, prev, s, len, hdr);
          u16[(s + M_REFCNT) >>> 1] = 1;
          u32[(s + M_OL_FLAGS) >>> 2] = 0;
          u32[(s + M_OL_FLAGS_HI) >>> 2] = 0;
          prev = s;
          pktLen += len;
        }
        if (!ok) {
          errors++;
          this.mbufs.free(m);
          continue;
        }
      }
      u32[(m + M_PKT_LEN) >>> 2] = pktLen;
      mbufs[off + nrx++] = m;
      bytes += pktLen;
      countFrame(u8, f64, st, pktLen, bufAddr + PKTMBUF_HEADROOM);
    }
    if (nrx !== nrx0) {
      f64[st + S_PACKETS] += nrx - nrx0;
      f64[st + S_BYTES] += bytes;
    }
    if (errors !== 0) f64[st + S_ERRORS] += errors;
    // The touched lead moves back by the descriptors this burst took (a whole lap when the position came round).
    let took = this.usedPos - pos0;
    if (took < 0 || (took === 0 && this.usedWrap !== wrap0)) took += size;
    took += nrx0;
    const lead = this.touchLead - took; // on every call, as in rxBurst
    this.touchLead = lead > 0 ? lead : 0;
    if (this.nfree >= this.refillThresh) this.refillRing();
    return nrx;
  }
}

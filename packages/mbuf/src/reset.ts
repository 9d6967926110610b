import * as L from "./layout.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  M_DATA_LEN, M_DATA_OFF, M_BUF_LEN, M_NB_SEGS, M_NEXT, M_OL_FLAGS, M_OL_FLAGS_HI, M_PKT_LEN, M_PORT,
  MBUF_PORT_INVALID, PKTMBUF_HEADROOM,
} = L;

/**
 * rte_pktmbuf_reset: the state alloc() hands out (alloc also sets refcnt = 1).
 * refcnt is left alone (other owners may hold references); buf_addr, buf_len
 * and the pool id are fixed at pool creation. Mbufs.initSegment writes this state
 * fused with a frame's length and port (one pass for RX paths): a field added or
 * changed here changes there too; mbufs.test compares the two byte for byte.
 */
export function resetMbuf(u16: Uint16Array, u32: Uint32Array, m: number): void {
  const bufLen = u16[(m + M_BUF_LEN) >>> 1]!;
  u16[(m + M_DATA_OFF) >>> 1] = bufLen < PKTMBUF_HEADROOM ? bufLen : PKTMBUF_HEADROOM;
  u16[(m + M_NB_SEGS) >>> 1] = 1;
  u16[(m + M_PORT) >>> 1] = MBUF_PORT_INVALID;
  u32[(m + M_OL_FLAGS) >>> 2] = 0;
  u32[(m + M_OL_FLAGS_HI) >>> 2] = 0;
  u32[(m + M_PKT_LEN) >>> 2] = 0;
  u16[(m + M_DATA_LEN) >>> 1] = 0;
  u32[(m + M_NEXT) >>> 2] = 0;
}

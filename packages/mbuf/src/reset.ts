import * as L from "./layout.js";

// Module-local copies of the layout constants: V8 does not constant-fold imported
// bindings (every use is a cell load plus a TDZ check, ~2x slower field access
// measured in reset), while module-local consts are folded.
const M_DATA_LEN = L.M_DATA_LEN;
const M_DATA_OFF = L.M_DATA_OFF;
const M_BUF_LEN = L.M_BUF_LEN;
const M_NB_SEGS = L.M_NB_SEGS;
const M_NEXT = L.M_NEXT;
const M_OL_FLAGS = L.M_OL_FLAGS;
const M_OL_FLAGS_HI = L.M_OL_FLAGS_HI;
const M_PKT_LEN = L.M_PKT_LEN;
const M_PORT = L.M_PORT;
const MBUF_PORT_INVALID = L.MBUF_PORT_INVALID;
const PKTMBUF_HEADROOM = L.PKTMBUF_HEADROOM;

/**
 * rte_pktmbuf_reset: the state alloc() hands out (alloc also sets refcnt = 1).
 * refcnt is left alone (other owners may hold references); buf_addr, buf_len
 * and the pool id are fixed at pool creation.
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

export { Mempool, WARM_CACHE_ROUNDS, type MempoolOptions } from "./mempool.js";
export { Mbufs } from "./mbufs.js";
export { MEMPOOL_ID_MAX } from "./pool-ids.js";
export {
  MBUF_HDR,
  PKTMBUF_HEADROOM,
  MBUF_DEFAULT_BUF_SIZE,
  MBUF_PORT_INVALID,
  MBUF_MAX_NB_SEGS,
  MBUF_FREE,
  MBUF_IN_USE,
  MEMPOOL_CACHE_MAX_SIZE,
  POOL_NAME_MAX,
  flushThreshold,
} from "./layout.js";
/** Header field byte offsets, for hot loops that want to skip the accessor (see layout.ts). */
export {
  M_BUF_ADDR,
  M_BUF_ADDR_HI,
  M_DATA_OFF,
  M_REFCNT,
  M_NB_SEGS,
  M_PORT,
  M_OL_FLAGS,
  M_OL_FLAGS_HI,
  M_PKT_LEN,
  M_DATA_LEN,
  M_BUF_LEN,
  M_NEXT,
  M_POOL_ID,
  M_STATE,
} from "./layout.js";

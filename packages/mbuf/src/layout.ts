/**
 * Byte layouts of an mbuf header and of a mempool zone. Everything is little
 * endian (the typed-array views follow the platform; x86-64 and arm64 are LE).
 *
 * mbuf header (64 bytes, 64-byte aligned; the handle is its byte offset):
 *
 *   off size field       meaning (rte_mbuf name)
 *   0   u32  BUF_ADDR    bus address of the data room, low half (buf_addr)
 *   4   u32  BUF_ADDR_HI high half, always 0: bus addresses are < 2^32
 *   8   u16  DATA_OFF    first data byte = buf_addr + data_off (data_off)
 *   10  u16  REFCNT      references; 1 while free in the pool too (refcnt)
 *   12  u16  NB_SEGS     segments in the chain, valid in the head (nb_segs)
 *   14  u16  PORT        input port, 0xffff = none (port)
 *   16  u32  OL_FLAGS    offload flags, low half (ol_flags)
 *   20  u32  OL_FLAGS_HI high half (kept 0 by tpdk)
 *   24  u32  PKT_LEN     bytes in the whole chain, valid in the head (pkt_len)
 *   28  u16  DATA_LEN    bytes in this segment (data_len)
 *   30  u16  BUF_LEN     bytes in the data room (buf_len)
 *   32  u32  NEXT        handle of the next segment, 0 = last (next)
 *   36  u16  POOL_ID     id of the mempool this mbuf returns to (pool)
 *   38  u8   STATE       debug pools: MBUF_FREE / MBUF_IN_USE (else unused)
 *   39..63               reserved
 *
 * The data room (buf_len bytes) follows the header directly:
 * buf_addr = handle + 64.
 */
export const MBUF_HDR = 64;
export const M_BUF_ADDR = 0;
export const M_BUF_ADDR_HI = 4;
export const M_DATA_OFF = 8;
export const M_REFCNT = 10;
export const M_NB_SEGS = 12;
export const M_PORT = 14;
export const M_OL_FLAGS = 16;
export const M_OL_FLAGS_HI = 20;
export const M_PKT_LEN = 24;
export const M_DATA_LEN = 28;
export const M_BUF_LEN = 30;
export const M_NEXT = 32;
export const M_POOL_ID = 36;
export const M_STATE = 38;

/** RTE_PKTMBUF_HEADROOM. */
export const PKTMBUF_HEADROOM = 128;
/** RTE_MBUF_DEFAULT_BUF_SIZE: 2048 bytes of data + the headroom. */
export const MBUF_DEFAULT_BUF_SIZE = 2048 + PKTMBUF_HEADROOM;
/** Port value of an mbuf that came from no port (RTE_MBUF_PORT_INVALID). */
export const MBUF_PORT_INVALID = 0xffff;
/** RTE_MBUF_MAX_NB_SEGS. */
export const MBUF_MAX_NB_SEGS = 0xffff;

/** Debug state byte values (only maintained by pools created with debug: true). */
export const MBUF_FREE = 1;
export const MBUF_IN_USE = 2;

/**
 * Mempool zone (named "MP_<name>", 128-byte aligned):
 *
 *   +0      pool header, 128 bytes (fields below, name at +64)
 *   +128    ring of free handles: MP/MC, exact size n (Ring.bytesFor)
 *   caches  MAX_LCORE per-lcore caches, `cacheStride` bytes each:
 *             +0 len u32 (own cache line)   +64 objs[cacheCap] u32 (a LIFO stack)
 *   mbufs   n elements of eltSize = align(64 + dataRoomSize, 64) bytes, padded to an odd number of lines (spreadEltSize)
 *
 * All offsets stored in the header are absolute byte offsets in EAL memory.
 */
export const POOL_MAGIC = 0x4d504f4c; // "MPOL"
export const P_MAGIC = 0;
export const P_ID = 4;
export const P_SIZE = 8;
export const P_CACHE_SIZE = 12;
export const P_FLUSH_THRESH = 16;
export const P_DATA_ROOM = 20;
export const P_ELT_SIZE = 24;
export const P_FLAGS = 28;
export const P_RING_OFF = 32;
export const P_CACHES_OFF = 36;
export const P_CACHE_STRIDE = 40;
export const P_MBUFS_OFF = 44;
export const P_CACHE_CAP = 48;
export const P_NAME = 64;
export const P_NAME_BYTES = 48;
export const POOL_HDR = 128;

export const POOL_F_DEBUG = 1;

/** Bytes from a cache's len word to its objs array. */
export const CACHE_OBJS = 64;

/** RTE_MEMPOOL_CACHE_MAX_SIZE. */
export const MEMPOOL_CACHE_MAX_SIZE = 512;
/** Zone name prefix of pools (as rte_mempool's "MP_"). */
export const POOL_ZONE_PREFIX = "MP_";
/** Pool name limit so that the zone name fits the EAL's 47 bytes. */
export const POOL_NAME_MAX = 47 - POOL_ZONE_PREFIX.length;

/** Flush threshold for a cache of `size` (CALC_CACHE_FLUSHTHRESH: 1.5 x size). */
export function flushThreshold(size: number): number {
  return Math.floor((size * 3) / 2);
}

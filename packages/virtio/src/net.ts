/**
 * virtio-net specifics (virtio 1.2 §5.1).
 */

/**
 * struct virtio_net_hdr. With VERSION_1 or MRG_RXBUF the header is 12 bytes
 * (num_buffers included); the legacy form without either is 10 bytes.
 */
export const NET_HDR_FLAGS = 0; // u8
export const NET_HDR_GSO_TYPE = 1; // u8
export const NET_HDR_HDR_LEN = 2; // u16
export const NET_HDR_GSO_SIZE = 4; // u16
export const NET_HDR_CSUM_START = 6; // u16
export const NET_HDR_CSUM_OFFSET = 8; // u16
export const NET_HDR_NUM_BUFFERS = 10; // u16
export const NET_HDR_SIZE = 12;
export const NET_HDR_SIZE_LEGACY = 10;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;

/** Header size for a negotiated feature set (§5.1.6). */
export function netHdrSize(version1: boolean, mrgRxbuf: boolean): number {
  return version1 || mrgRxbuf ? NET_HDR_SIZE : NET_HDR_SIZE_LEGACY;
}

/** struct virtio_net_config (§5.1.4). */
export const NET_CFG_MAC = 0; // u8[6]
export const NET_CFG_STATUS = 6; // u16
export const NET_CFG_MAX_VIRTQUEUE_PAIRS = 8; // u16
export const NET_CFG_MTU = 10; // u16
export const NET_CFG_SIZE = 12;
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_S_ANNOUNCE = 2;

/** Queue numbering (§5.1.2): receiveq k = 2k, transmitq k = 2k+1, controlq after the last pair. */
export function rxQueueIndex(pair: number): number {
  return 2 * pair;
}
export function txQueueIndex(pair: number): number {
  return 2 * pair + 1;
}

/** Ethernet: smallest frame the driver accepts (header only), and the usual MTU. */
export const ETH_HDR_LEN = 14;
export const ETH_MIN_FRAME = 60; // without FCS
export const ETH_MAX_FRAME = 1514; // MTU 1500 + 14, without FCS
/**
 * Without MRG_RXBUF each RX buffer must hold a whole frame plus header (§5.1.6.3.1):
 * DPDK posts at least this many bytes.
 */
export const RX_BUF_MIN_NO_MRG = ETH_MAX_FRAME + NET_HDR_SIZE;

/**
 * The virtio-net control virtqueue (virtio 1.2 §5.1.6.5), shared by the
 * device (packages/vhost) and the driver (packages/virtio-pmd).
 *
 * A command is one descriptor chain:
 *
 *   device-readable   u8 class, u8 command, command-specific data
 *   device-writable   u8 ack (VIRTIO_NET_OK / VIRTIO_NET_ERR)
 *
 * Queue numbering (§5.1.2): receiveq k = 2k, transmitq k = 2k+1 for
 * k < N, then the control queue at 2N, where N = max_virtqueue_pairs when
 * VIRTIO_NET_F_MQ is negotiated and N = 1 otherwise (controlq = 2).
 * VIRTIO_NET_F_MQ requires VIRTIO_NET_F_CTRL_VQ (§5.1.3.1).
 */

export const VIRTIO_NET_OK = 0;
export const VIRTIO_NET_ERR = 1;

/** Bytes of the command header (class, command) and of the ack. */
export const CTRL_HDR_SIZE = 2;
export const CTRL_ACK_SIZE = 1;

/** Packet receive filtering (§5.1.6.5.1); needs VIRTIO_NET_F_CTRL_RX. Data: one byte, 0 off / 1 on. */
export const VIRTIO_NET_CTRL_RX = 0;
export const VIRTIO_NET_CTRL_RX_PROMISC = 0;
export const VIRTIO_NET_CTRL_RX_ALLMULTI = 1;

/**
 * MAC address filtering (§5.1.6.5.2). ADDR_SET (needs VIRTIO_NET_F_CTRL_MAC_ADDR): data is the
 * 6-byte default MAC the device's receive filter accepts. In virtio 1.x this is the only way a
 * driver changes the device's MAC: the config field is read-only (§5.1.4.2).
 */
export const VIRTIO_NET_CTRL_MAC = 1;
export const VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
export const VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;

/** Multiqueue (§5.1.6.5.5). VQ_PAIRS_SET data: le16 virtqueue_pairs in MIN..max_virtqueue_pairs. */
export const VIRTIO_NET_CTRL_MQ = 4;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000;

/** Index of the control virtqueue: 2N (N = max_virtqueue_pairs with MQ negotiated, else 1). */
export function ctrlQueueIndex(maxVirtqueuePairs: number, mqNegotiated: boolean): number {
  return mqNegotiated ? 2 * maxVirtqueuePairs : 2;
}

/** "MQ VQ_PAIRS_SET", "RX PROMISC", or "class 9 command 3" (messages, cold). */
export function ctrlCommandName(cls: number, cmd: number): string {
  if (cls === VIRTIO_NET_CTRL_MQ && cmd === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) return "MQ VQ_PAIRS_SET";
  if (cls === VIRTIO_NET_CTRL_MAC && cmd === VIRTIO_NET_CTRL_MAC_ADDR_SET) return "MAC ADDR_SET";
  if (cls === VIRTIO_NET_CTRL_RX && cmd === VIRTIO_NET_CTRL_RX_PROMISC) return "RX PROMISC";
  if (cls === VIRTIO_NET_CTRL_RX && cmd === VIRTIO_NET_CTRL_RX_ALLMULTI) return "RX ALLMULTI";
  return `class ${cls} command ${cmd}`;
}

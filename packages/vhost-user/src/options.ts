import { UsageError, takeBool, takeInt, takeString } from "@tpdk/eal";

/**
 * net_virtio_user's own keys (DPDK's names and meanings); the driver's keys
 * (mac, queue_size, mrg_rxbuf, in_order, ...) are parsed by virtio-pmd as for
 * any virtio port.
 */
export interface VirtioUserOptions {
  /** path=: the vhost-user socket. */
  readonly path: string;
  /** queues=: queue pairs (DPDK default 1). */
  readonly queues: number;
  /** queue_size=: ring size offered (DPDK default 256). */
  readonly queueSize: number;
  /** server=1: listen at path and accept (and accept again after the back-end goes away). */
  readonly server: boolean;
  readonly mac?: Uint8Array;
  /** Waiting for a back-end to connect (server=1), ms. */
  readonly connectTimeoutMs: number;
  /** Waiting for any one reply, ms. */
  readonly replyTimeoutMs: number;
}

export const VIRTIO_USER_KEYS = ["path", "queues", "server", "packed_vq"] as const;
export const DEFAULT_QUEUE_PAIRS = 1;
export const DEFAULT_VIRTIO_USER_QUEUE_SIZE = 256;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_REPLY_TIMEOUT_MS = 2_000;

/** Read net_virtio_user's keys from a vdev's devargs (marks them known). Throws UsageError naming the key. */
export function parseVirtioUserArgs(vdevName: string, args: Map<string, string>, queueSize: number, mac: Uint8Array | undefined): VirtioUserOptions {
  const path = takeString(args, "path", { default: "" });
  if (path === "") throw new UsageError(`${vdevName}: path= is required: the vhost-user socket, e.g. --vdev ${vdevName},path=/tmp/vhost-user0.sock`);
  const queues = takeInt(args, "queues", { min: 1, max: 16, default: DEFAULT_QUEUE_PAIRS });
  const server = takeBool(args, "server", { default: false });
  // packed_vq= is the driver's key (parseDriverArgs): packed rings when the back-end offers RING_PACKED.
  takeBool(args, "packed_vq", { default: false });
  const o: { -readonly [K in keyof VirtioUserOptions]: VirtioUserOptions[K] } = {
    path, queues, server, queueSize,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
    replyTimeoutMs: DEFAULT_REPLY_TIMEOUT_MS,
  };
  if (mac) o.mac = mac;
  return o;
}

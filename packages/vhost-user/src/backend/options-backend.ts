import { UsageError, takeBool, takeInt, takeString } from "@tpdk/eal";

/** net_vhost's keys (DPDK's names: iface, queues, client; `sealed` is tpdk's). */
export interface NetVhostOptions {
  /** iface=: the vhost-user socket path. */
  readonly iface: string;
  /** queues=: queue pairs offered (DPDK default 1). */
  readonly queues: number;
  /** client=1: connect to a front-end listening at iface (retrying) instead of listening. */
  readonly client: boolean;
  /** sealed=1: refuse guest memory not sealed against shrinking (see README: what remains exposed). */
  readonly sealed: boolean;
}

export const NET_VHOST_KEYS = ["iface", "queues", "client", "sealed"] as const;
export const NET_VHOST_MAX_QUEUES = 16;

/** Read net_vhost's keys from a vdev's devargs (marks them known). Throws UsageError naming the key. */
export function parseNetVhostArgs(vdevName: string, args: Map<string, string>): NetVhostOptions {
  const iface = takeString(args, "iface", { default: "" });
  if (iface === "") throw new UsageError(`${vdevName}: iface= is required: the vhost-user socket, e.g. --vdev ${vdevName},iface=/tmp/vhost-user0.sock`);
  const queues = takeInt(args, "queues", { min: 1, max: NET_VHOST_MAX_QUEUES, default: 1 });
  const client = takeBool(args, "client", { default: false });
  const sealed = takeBool(args, "sealed", { default: false });
  return { iface, queues, client, sealed };
}

import { TpdkError } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { native } from "@tpdk/native";
import { type QueueAttacher, registerQueueAttacher } from "@tpdk/virtio-pmd";
import { NetVhostRxQueue } from "./rx-burst.js";
import { NetVhostTxQueue } from "./tx-burst.js";
import { GuestQueue } from "./guest-queue.js";
import { PortZone } from "./port-zone.js";

/**
 * The data path's entry for lcores: rxBurst/txBurst (virtio-pmd's
 * dispatch, as l2fwd calls them) reach net_vhost ports through this
 * attacher. An lcore module calls registerNetVhostQueues() once; a port
 * that is not net_vhost is left to the virtio PMD.
 */
const attacher: QueueAttacher = {
  rx(mem, port, queue) {
    const z = PortZone.lookup(mem, port);
    if (z === null) return null;
    if (queue >= z.pairs) throw new TpdkError("EINVAL", `port ${port}: net_vhost RX queue ${queue} does not exist (${z.pairs} pair(s))`);
    const poolId = z.pool(queue);
    if (poolId < 0) throw new TpdkError("ESTATE", `port ${port}: net_vhost RX queue ${queue} has no mempool (rxQueueSetup first)`);
    const n = requireAddon(port);
    const ring = 2 * queue + 1;
    const q = new GuestQueue(n, z.ringWords(ring), z.counts(ring), z.nextToken());
    return new NetVhostRxQueue(mem, q, Mempool.attachById(mem, poolId), port, queue, z.burstStats(ring));
  },
  tx(mem, port, queue) {
    const z = PortZone.lookup(mem, port);
    if (z === null) return null;
    if (queue >= z.pairs) throw new TpdkError("EINVAL", `port ${port}: net_vhost TX queue ${queue} does not exist (${z.pairs} pair(s))`);
    const n = requireAddon(port);
    const ring = 2 * queue;
    return new NetVhostTxQueue(mem, new GuestQueue(n, z.ringWords(ring), z.counts(ring), z.nextToken()), port, queue, z.burstStats(ring));
  },
};

function requireAddon(port: number) {
  if (!native) throw new TpdkError("ENOTSUP", `port ${port}: net_vhost needs the native addon @tpdk/native in every lcore`);
  return native;
}

/** Let this thread's rxBurst/txBurst reach net_vhost ports. Idempotent. */
export function registerNetVhostQueues(): void {
  registerQueueAttacher(attacher);
}

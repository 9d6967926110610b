// A probed port on a multi-queue fake device, for tests of queue set-up, the
// control queue and MQ: the port is configured by the test, not by the rig.
import { Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { type Features, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ, withFeature } from "@tpdk/virtio";
import { InProcessTransport, type TrapHandler, type VirtioPmdOptions, VirtioPort } from "@tpdk/virtio-pmd";
import { type FakeDeviceOptions, FakeNetDevice } from "./fake-device.js";
import { ALL_FEATURES, type FakePort } from "./harness.js";

/** The data-path features with CTRL_VQ and MQ (virtio 1.2 §5.1.3): what a multi-queue device offers. */
export const MQ_FEATURES: Features = withFeature(withFeature(ALL_FEATURES, VIRTIO_NET_F_CTRL_VQ, true), VIRTIO_NET_F_MQ, true);

/**
 * A fake device offering MQ_FEATURES and 4 queue pairs (optionally behind `wrap`, which may make
 * traps fail), the port probed on it with 64-entry rings, and a debug pool of 1024 mbufs.
 */
export function mqPort(device: Partial<FakeDeviceOptions> = {}, pmd: VirtioPmdOptions = {}, wrap?: (d: FakeNetDevice) => TrapHandler): FakePort {
  const mem = Memory.create(48 << 20);
  const dev = new FakeNetDevice(mem, { offered: MQ_FEATURES, maxPairs: 4, mac: [0x52, 0x54, 0, 0, 0, 1], ...device });
  const transport = new InProcessTransport(mem, dev.region, wrap ? wrap(dev) : dev, "virtio0");
  const port = VirtioPort.probe(mem, { portId: 0, transport, options: { queueSize: 64, trapTimeoutMs: 200, ...pmd } });
  const pool = Mempool.create(mem, "mqpool", { n: 1024, cacheSize: 0, debug: true });
  return { mem, dev, transport, port, pool, mbufs: new Mbufs(mem) };
}

/** port.configure(nbRx, nbTx), then every RX queue set up from the pool and every TX queue. */
export function setUpQueues(r: FakePort, nbRx: number, nbTx: number): void {
  r.port.configure(nbRx, nbTx);
  for (let q = 0; q < nbRx; q++) r.port.rxQueueSetup(q, { pool: r.pool });
  for (let q = 0; q < nbTx; q++) r.port.txQueueSetup(q);
}

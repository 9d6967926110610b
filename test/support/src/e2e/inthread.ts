// The driver and the real device on ONE thread, stepped by hand: VirtioPort
// probes the vhost device through its trap mailbox, each trap pumping the
// device loop until it is answered (TrapClient), and the test runs device
// passes and bursts in whatever order the scenario needs. Deterministic.
import { Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { type DeviceWireSpec, type VhostDevice, Vhost } from "@tpdk/vhost";
import { TrapClient } from "../vhost/index.js";
import { InProcessTransport, RxQueue, TxQueue, type VirtioPmdOptions, VirtioPort } from "@tpdk/virtio-pmd";

export interface InThread {
  mem: Memory;
  dev: VhostDevice;
  port: VirtioPort;
  pool: Mempool;
  mbufs: Mbufs;
  rxq: RxQueue;
  txq: TxQueue;
  /** Step the device loop n times; returns the work done. */
  pass(n?: number): number;
  close(): void;
}

export function inThreadPort(o: { wire: (mem: Memory) => DeviceWireSpec; pmd?: VirtioPmdOptions; poolSize?: number; memMb?: number }): InThread {
  const mem = Memory.create((o.memMb ?? 64) << 20);
  const vhost = new Vhost(mem);
  const dev = vhost.addDevice({ name: "virtio0", wire: o.wire(mem) });
  const loop = vhost.createLoop();
  const pass = (n = 1): number => {
    let w = 0;
    for (let i = 0; i < n; i++) w += loop.pass();
    return w;
  };
  const client = new TrapClient(mem, dev.transportOffset, () => loop.pass());
  const transport = new InProcessTransport(mem, dev.transportOffset, client, "virtio0");
  const port = VirtioPort.probe(mem, { portId: 0, transport, options: { queueSize: 256, ...o.pmd } });
  const pool = Mempool.create(mem, "inthread", { n: o.poolSize ?? 2048, cacheSize: 0, debug: true });
  port.configure(1, 1);
  port.rxQueueSetup(0, { pool });
  port.txQueueSetup(0);
  port.start();
  return {
    mem,
    dev,
    port,
    pool,
    mbufs: new Mbufs(mem),
    rxq: RxQueue.attach(mem, 0, 0),
    txq: TxQueue.attach(mem, 0, 0),
    pass,
    close: () => {
      port.close();
      loop.close();
    },
  };
}

/** Ethernet frames of 60..(60+spread) bytes, byte 14 = index (mod 256). */
export function testFrames(n: number, spread = 40): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const f = new Uint8Array(60 + (i % (spread + 1)));
    f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5, i & 0xff]);
    return f;
  });
}

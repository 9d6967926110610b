// Ports on the real device thread, brought up as an application does.
import type { Memory } from "@tpdk/eal";
import type { Mempool } from "@tpdk/mbuf";
import type { VhostDevice } from "@tpdk/vhost";
import { VirtioPort } from "@tpdk/virtio-pmd";

/**
 * Probe each device's port, configure one queue pair (RX buffers from
 * `pool`, `queueSize` descriptors) and start it. Each port is pushed onto
 * `ports` as soon as it is probed, so the caller's cleanup closes it even
 * when a later step throws.
 */
export function startPorts(mem: Memory, devs: readonly VhostDevice[], pool: Mempool, queueSize: number, ports: VirtioPort[]): void {
  for (const d of devs) {
    const p = VirtioPort.probe(mem, { portId: d.index, name: d.name, transportOffset: d.transportOffset, options: { queueSize } });
    ports.push(p);
    p.configure(1, 1);
    p.rxQueueSetup(0, { pool });
    p.txQueueSetup(0, {});
    p.start();
  }
}

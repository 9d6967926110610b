import type { Memory } from "@tpdk/eal";
import { Vhost, type VhostDevice } from "@tpdk/vhost";
import { VirtioPort } from "@tpdk/virtio-pmd";
import { type DeviceFailure, explainFailure } from "./failure.js";
import type { VdevPlan } from "./plan.js";

export interface VdevStartOptions {
  /** CPU for the device thread (eal.serviceCpu()); -1 or undefined: unpinned. */
  readonly deviceCpu?: number;
  /** The device thread never sleeps (benchmarks with a CPU to spare). */
  readonly busyPoll?: boolean;
  /** Queue pairs each device offers (one per lcore that polls it). Default 1. */
  readonly queuePairs?: number;
}

/**
 * The vdev bus: for each plan, a software virtio-net device (served by one
 * device thread) and the virtio PMD port bound to it. The driver meets the
 * device only through the transport offset, as it would a PCI function.
 */
export class VdevPorts {
  readonly vhost: Vhost;
  readonly devices: readonly VhostDevice[];
  readonly ports: readonly VirtioPort[];
  private closed = false;
  private readonly failure: DeviceFailure;

  private constructor(vhost: Vhost, devices: VhostDevice[], ports: VirtioPort[], failure: DeviceFailure) {
    this.vhost = vhost;
    this.devices = devices;
    this.ports = ports;
    this.failure = failure;
  }

  static async start(mem: Memory, plans: readonly VdevPlan[], opts: VdevStartOptions = {}): Promise<VdevPorts> {
    const vhostOpts: { cpu?: number; busyPoll?: boolean } = {};
    if (opts.deviceCpu !== undefined && opts.deviceCpu >= 0) vhostOpts.cpu = opts.deviceCpu;
    if (opts.busyPoll) vhostOpts.busyPoll = true;
    const vhost = new Vhost(mem, vhostOpts);
    // A vdev's mac= is its device's MAC (the driver reads it from the config).
    const devices = plans.map((p) => vhost.addDevice({ name: p.name, wire: p.wire, queuePairs: opts.queuePairs ?? 1, ...(p.mac ? { mac: p.mac } : {}) }));
    await vhost.start();
    const failure: DeviceFailure = {};
    vhost.failed.catch((e: Error) => (failure.error = e));
    const ports: VirtioPort[] = [];
    try {
      for (const p of plans) {
        ports.push(VirtioPort.probe(mem, { portId: p.portId, name: p.name, transportOffset: devices[p.portId]!.transportOffset, options: p.driver }));
      }
    } catch (e) {
      const why = await explainFailure(failure, e);
      // A trap that timed out with no failure reported: the thread is hung, and
      // stop() would wait for it in vain; terminating it cannot hang.
      const silent = failure.error === undefined && (e as { code?: unknown }).code === "ETIMEDOUT";
      await (silent ? vhost.kill() : vhost.stop()).catch(() => undefined);
      throw why;
    }
    return new VdevPorts(vhost, devices, ports, failure);
  }

  /** The device thread's failure once it has been reported (`vhost.failed` rejected), else undefined. */
  get deviceFailure(): Error | undefined {
    return this.failure.error;
  }

  /**
   * For an error thrown by a driver call (cold path: bring-up, stop): when the
   * device thread has failed, an error naming that failure, the real cause
   * (a trap to a dead thread only times out as "device not answering");
   * otherwise `e` itself. Waits a moment first: the thread's report is a
   * message that queued up while the trap blocked the event loop.
   */
  explain(e: unknown): Promise<unknown> {
    return explainFailure(this.failure, e);
  }

  /** Every device's finite input is used up and everything sent to it was taken. */
  inputExhausted(): boolean {
    return this.devices.every((d) => d.inputExhausted());
  }

  /**
   * Stop and close every port (each waits for the device to take its
   * outstanding TX, then frees the mbufs its rings held), then stop the device
   * thread, which flushes and closes the wires (pcap outputs). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const port of this.ports) {
      port.stop();
      port.close();
    }
    await this.vhost.stop();
  }
}


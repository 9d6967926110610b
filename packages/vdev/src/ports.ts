import { type Memory, TpdkError } from "@tpdk/eal";
import { native, nativeMissingReason } from "@tpdk/native";
import { DEFAULT_MAX_QUEUE_SIZE, Vhost, type VhostDevice } from "@tpdk/vhost";
import { NetVhostPort, VhostUserTransport } from "@tpdk/vhost-user";
import { VirtioPort } from "@tpdk/virtio-pmd";
import { type DeviceFailure, explainFailure } from "./failure.js";
import type { BuiltinPlan, VdevPlan } from "./plan.js";

/**
 * An ethdev port as the application drives it: the virtio PMD's port (built-in
 * device or net_virtio_user), or a net_vhost port (no driver: the front-end's rings).
 */
export type EthPort = VirtioPort | NetVhostPort;

/** A port's link went down or came back (vhost-user back-ends): the app prints it. */
export type PortLinkListener = (portId: number, up: boolean, why: string) => void;

export interface VdevStartOptions {
  /** CPU for the device thread (eal.serviceCpu()); -1 or undefined: unpinned. */
  readonly deviceCpu?: number;
  /** The device thread never sleeps (benchmarks with a CPU to spare). */
  readonly busyPoll?: boolean;
  /** Queue pairs each device offers (one per lcore that polls it). Default 1. */
  readonly queuePairs?: number;
  /** The EAL memory's memfd (eal.memoryFd): net_virtio_user shares it with the back-end. */
  readonly memoryFd?: number;
  /**
   * Built-in devices deliver received frames from DRIVER_OK on, even before
   * any lcore polls. Default false: a started port's wire starts once the
   * EAL's lcores have launched (Vhost's rxAfterLaunch), so frames a wire
   * offers before the application polls are neither delivered nor missed.
   */
  readonly rxBeforeLaunch?: boolean;
}

/**
 * The vdev bus: for each plan, the virtio PMD port and what is behind it:
 * a software virtio-net device (built-in `virtio` ports, all served by one
 * device thread; the driver meets it only through the transport offset, as
 * it would a PCI function), or a vhost-user back-end in another process
 * (`net_virtio_user` ports, through a VhostUserTransport).
 */
export class VdevPorts {
  /** The device thread, when some port is built-in. */
  readonly vhost: Vhost | null;
  /** By port id: the built-in device, or undefined for a vhost-user port. */
  readonly devices: readonly (VhostDevice | undefined)[];
  readonly ports: readonly EthPort[];
  /** By port id: the vhost-user transport of a net_virtio_user port. */
  readonly userTransports: readonly (VhostUserTransport | undefined)[];
  private closed = false;
  private readonly failure: DeviceFailure;

  private constructor(vhost: Vhost | null, devices: (VhostDevice | undefined)[], ports: EthPort[], users: (VhostUserTransport | undefined)[], failure: DeviceFailure) {
    this.vhost = vhost;
    this.devices = devices;
    this.ports = ports;
    this.userTransports = users;
    this.failure = failure;
  }

  static async start(mem: Memory, plans: readonly VdevPlan[], opts: VdevStartOptions = {}): Promise<VdevPorts> {
    const builtin = plans.filter((p): p is BuiltinPlan => p.kind === "virtio");
    let vhost: Vhost | null = null;
    const devices: (VhostDevice | undefined)[] = [];
    const failure: DeviceFailure = {};
    if (builtin.length > 0) {
      const vhostOpts: { cpu?: number; busyPoll?: boolean; rxAfterLaunch: boolean } = { rxAfterLaunch: opts.rxBeforeLaunch !== true };
      if (opts.deviceCpu !== undefined && opts.deviceCpu >= 0) vhostOpts.cpu = opts.deviceCpu;
      if (opts.busyPoll) vhostOpts.busyPoll = true;
      const v = new Vhost(mem, vhostOpts);
      vhost = v;
      for (const p of builtin) {
        // A vdev's mac= is its device's MAC (the driver reads it from the config).
        // packed_vq=1: the device offers RING_PACKED too (the control queue and MQ with it, offer.ts).
        const packed = p.driver.packedVq === true;
        // The driver caps queue_size= at the device's maximum: a software device has no reason
        // to offer less than asked, so a queue_size= above the default maximum raises it.
        const maxQueueSize = deviceMaxQueueSize(p.driver.queueSize);
        devices[p.portId] = v.addDevice({
          name: p.name, wire: p.wire, queuePairs: opts.queuePairs ?? 1, ...(p.mac ? { mac: p.mac } : {}), ...(packed ? { offer: { RING_PACKED: true } } : {}),
          ...(maxQueueSize !== DEFAULT_MAX_QUEUE_SIZE ? { maxQueueSize } : {}),
        });
      }
      await v.start();
      v.failed.catch((e: Error) => (failure.error = e));
    }
    const ports: EthPort[] = [];
    const users: (VhostUserTransport | undefined)[] = [];
    try {
      for (const p of plans) {
        if (p.kind === "virtio") {
          ports.push(VirtioPort.probe(mem, { portId: p.portId, name: p.name, transportOffset: devices[p.portId]!.transportOffset, options: p.driver }));
          continue;
        }
        if (p.kind === "net_vhost") {
          if (!native) throw new TpdkError("ENOTSUP", `${p.name}: net_vhost needs the native addon @tpdk/native: ${nativeMissingReason}`);
          ports.push(new NetVhostPort(mem, native, p.portId, p.name, p.vhost));
          continue;
        }
        if (!native) throw new TpdkError("ENOTSUP", `${p.name}: net_virtio_user needs the native addon @tpdk/native: ${nativeMissingReason}`);
        if (opts.memoryFd === undefined || opts.memoryFd < 0) {
          throw new TpdkError("ENOTSUP", `${p.name}: net_virtio_user needs EAL memory another process can map (Eal.init with sharedMemory)`);
        }
        const t = VhostUserTransport.open(mem, native, opts.memoryFd, p.name, p.user);
        users[p.portId] = t;
        try {
          ports.push(VirtioPort.probe(mem, { portId: p.portId, name: p.name, transport: t, options: p.driver }));
        } catch (e) {
          t.close();
          users[p.portId] = undefined;
          throw e;
        }
      }
    } catch (e) {
      for (const port of ports) port.close();
      for (const t of users) t?.close();
      if (!vhost) throw e;
      const why = await explainFailure(failure, e);
      // A trap that timed out with no failure reported: the thread is hung, and
      // stop() would wait for it in vain; terminating it cannot hang.
      const silent = failure.error === undefined && (e as { code?: unknown }).code === "ETIMEDOUT";
      await (silent ? vhost.kill() : vhost.stop()).catch(() => undefined);
      throw why;
    }
    return new VdevPorts(vhost, devices, ports, users, failure);
  }

  /** Tell `l` when a vhost-user port's link goes down or comes back. */
  onLinkChange(l: PortLinkListener): void {
    this.userTransports.forEach((t, portId) => t?.onLinkChange((up, why) => l(portId, up, why)));
    for (const p of this.ports) if (p instanceof NetVhostPort) p.onLinkChange((up, why) => l(p.portId, up, why));
  }

  /** The net_vhost port with this id, or undefined (its front-end may come and go: a link down is not a fault). */
  vhostPort(portId: number): NetVhostPort | undefined {
    const p = this.ports[portId];
    return p instanceof NetVhostPort ? p : undefined;
  }

  /** The device thread's failure, as a promise that never resolves when there is no device thread. */
  get failed(): Promise<never> {
    return this.vhost ? this.vhost.failed : new Promise<never>(() => undefined);
  }

  /** Terminate the device thread (when it may be hung). */
  async kill(): Promise<void> {
    await this.vhost?.kill();
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

  /**
   * Every device's finite input is used up and everything sent to it was
   * taken; with `nbPorts`, of ports 0..nbPorts-1 only (the rest are the app's own).
   */
  inputExhausted(nbPorts = this.ports.length): boolean {
    // Plain loops: l2fwd asks every 50 ms for the whole run, and slices and callbacks here were
    // most of its main thread's steady garbage (bench README, GC on every thread).
    for (let i = 0; i < nbPorts; i++) {
      // A vhost-user back-end's input has no end we could know of, nor a net_vhost front-end's.
      if (this.userTransports[i] !== undefined || this.ports[i] instanceof NetVhostPort) return false;
    }
    for (let i = 0; i < nbPorts; i++) {
      const d = this.devices[i];
      if (d !== undefined && !d.inputExhausted()) return false;
    }
    return true;
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
    for (const t of this.userTransports) t?.close();
    await this.vhost?.stop();
  }
}

/** A built-in device's largest queue for a port's queue_size= (a power of two: packed rings take any size). */
export function deviceMaxQueueSize(queueSize: number | undefined): number {
  let max = DEFAULT_MAX_QUEUE_SIZE;
  while (queueSize !== undefined && max < queueSize) max *= 2;
  return max;
}

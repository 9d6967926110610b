// l2fwd brought up inside the calling process, the way apps/l2fwd/src/main.ts
// does it (same pool sizing, same lcore loop), so that the soak and the fault
// tests can read every layer's counters while traffic flows: the wires', the
// devices', the driver's and l2fwd's own.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Eal } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { VdevPorts, planVdevs } from "@tpdk/vdev";
import type { VhostDevice } from "@tpdk/vhost";
import { type LcoreArg, type PortCounters, assignLcores, destinations, enabledPorts, readCounters, reserveStats } from "@tpdk/l2fwd";

// The compiled loop, through l2fwd's exports map (lcores are plain Node threads).
const LCORE_LOOP = pathToFileURL(createRequire(import.meta.url).resolve("@tpdk/l2fwd/lcore-loop"));
const MAX_PKT_BURST = 64;
const MEMPOOL_CACHE_SIZE = 256;

export interface InprocOptions {
  /** --vdev strings, one port each. */
  vdevs: string[];
  /** lcore ids (default [0]). */
  lcores?: number[];
  /** Ports polled per lcore (default: all on the first lcore). */
  portsPerLcore?: number;
  burst?: number;
  memoryMb?: number;
  macUpdating?: boolean;
  /** Extra mbufs in the pool beyond l2fwd's sizing (default 0). */
  extraMbufs?: number;
}

/** Every layer's counters for one port, read at (nearly) one instant per layer. */
export interface PortLayers {
  port: number;
  /** The port's wire: frames it generated (RX side) and took (TX side), and its checks. */
  wire: { generated: number; missed: number; received: number; lost: number; duplicated: number; reordered: number; badChecksum: number; foreign: number; writeErrors: number };
  /** The port's device. */
  device: { rxPackets: number; rxMissed: number; rxOther: number; txPackets: number; txDropped: number };
  /** The driver. */
  driver: { ipackets: number; opackets: number; ierrors: number; oerrors: number; rxNombuf: number; txRingFull: number };
  /** l2fwd's counters (rx on this port; tx and dropped out of it). */
  app: PortCounters;
}

export class InprocL2fwd {
  readonly eal: Eal;
  readonly bus: VdevPorts;
  readonly pool: Mempool;
  readonly statsOffset: number;
  readonly enabled: number[];
  /** dst[p]: where frames received on p go. */
  readonly dst: number[];
  readonly rxQueueSizes: number[];
  readonly txQueueSizes: number[];
  readonly burst: number;
  private done: Promise<unknown[]> | null = null;

  private constructor(eal: Eal, bus: VdevPorts, pool: Mempool, statsOffset: number, enabled: number[], dst: number[], burst: number) {
    this.eal = eal;
    this.bus = bus;
    this.pool = pool;
    this.statsOffset = statsOffset;
    this.enabled = enabled;
    this.dst = dst;
    this.burst = burst;
    this.rxQueueSizes = bus.ports.map((p) => p.info().rxQueueSizes[0] ?? 0);
    this.txQueueSizes = bus.ports.map((p) => p.info().txQueueSizes[0] ?? 0);
  }

  /** Devices, ports (configured and started) and pool; the lcores are launched by run(). */
  static async start(o: InprocOptions): Promise<InprocL2fwd> {
    const plans = planVdevs(o.vdevs);
    const nbPorts = plans.length;
    const lcores = o.lcores ?? [0];
    const enabled = enabledPorts((1 << nbPorts) - 1, nbPorts);
    const { dst } = destinations(enabled, [], nbPorts);
    const lcorePorts = assignLcores(enabled, lcores, o.portsPerLcore ?? nbPorts);
    // The lcore threads load the loop now (rte_eal_init), so that launch is one message.
    const eal = Eal.init({ lcores, memoryMb: o.memoryMb ?? 256 }, { preload: [LCORE_LOOP] });
    const ringMbufs = plans.reduce((n, p) => n + (p.kind === "net_vhost" ? 0 : 2 * (p.driver.queueSize ?? 1024)), 0);
    const n = Math.max(ringMbufs + nbPorts * (MAX_PKT_BURST + lcorePorts.size * MEMPOOL_CACHE_SIZE), 8192) + (o.extraMbufs ?? 0);
    const pool = Mempool.create(eal.mem, "mbuf_pool", { n, cacheSize: MEMPOOL_CACHE_SIZE });
    const [bus] = await Promise.all([VdevPorts.start(eal.mem, plans, { deviceCpu: eal.serviceCpu() }), eal.ready()]);
    for (const port of bus.ports) {
      port.configure(1, 1);
      port.rxQueueSetup(0, { pool });
      port.txQueueSetup(0);
      port.start();
    }
    const statsOffset = reserveStats(eal.mem, nbPorts);
    const app = new InprocL2fwd(eal, bus, pool, statsOffset, enabled, dst, o.burst ?? 32);
    const macs = bus.ports.map((p) => [...p.macAddr()]);
    await eal.launch(LCORE_LOOP, "l2fwdLoop", (lcore): LcoreArg => ({
      rxPorts: lcorePorts.get(lcore) ?? [],
      dst,
      macs,
      macUpdating: o.macUpdating ?? true,
      burst: app.burst,
      statsOffset,
      drainPasses: 32,
    }));
    app.done = eal.wait();
    app.done.catch(() => {});
    return app;
  }

  /** l2fwd's counters for every enabled port. */
  appCounters(): PortCounters[] {
    return readCounters(this.eal.mem, this.statsOffset, this.enabled);
  }

  /** The device thread took all finite input and everything l2fwd received has been sent or dropped and taken by the devices. */
  drained(): boolean {
    if (!this.bus.inputExhausted()) return false;
    const c = this.appCounters();
    let rx = 0;
    let out = 0;
    for (let i = 0; i < this.enabled.length; i++) {
      if (this.bus.devices[this.enabled[i]!]!.stats().rxPackets !== c[i]!.rx) return false;
      rx += c[i]!.rx;
      out += c[i]!.tx + c[i]!.dropped;
    }
    return rx === out;
  }

  /** Wait (sleeping) until drained() or `timeoutMs`; true when drained. */
  async waitDrained(timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      if (this.drained()) return true;
      await sleep(20);
    }
    return this.drained();
  }

  /** This harness plans built-in ports only: every port has a device. */
  private builtinDevices(): VhostDevice[] {
    return this.bus.devices.map((d) => d!);
  }

  /** Layer readers, one call per layer (all ports), for ordered snapshots. */
  readWires(): PortLayers["wire"][] {
    return this.builtinDevices().map((d) => {
      const w = d.wireStats();
      return {
        generated: w.generated, missed: w.missed, received: w.received, lost: w.lost, duplicated: w.duplicated,
        reordered: w.reordered, badChecksum: w.badChecksum, foreign: w.foreign, writeErrors: w.writeErrors,
      };
    });
  }
  readDevices(): PortLayers["device"][] {
    return this.builtinDevices().map((d) => {
      const s = d.stats();
      return {
        rxPackets: s.rxPackets, rxMissed: s.rxMissed, rxOther: s.rxOversize + s.rxNoFit + s.rxDropped,
        txPackets: s.txPackets, txDropped: s.txDropped,
      };
    });
  }
  readDrivers(): PortLayers["driver"][] {
    return this.bus.ports.map((p) => {
      const s = p.stats();
      let txRingFull = 0;
      for (const x of p.xstats()) if (/^tx_q\d+_ring_full$/.test(x.name)) txRingFull += x.value;
      return { ipackets: s.ipackets, opackets: s.opackets, ierrors: s.ierrors, oerrors: s.oerrors, rxNombuf: s.rx_nombuf, txRingFull };
    });
  }

  /** Everything at once (no ordering guarantee between layers: for reports and end-of-run checks). */
  snapshot(): PortLayers[] {
    const wire = this.readWires();
    const device = this.readDevices();
    const driver = this.readDrivers();
    const app = this.appCounters();
    return this.enabled.map((p, i) => ({ port: p, wire: wire[p]!, device: device[p]!, driver: driver[p]!, app: app[i]! }));
  }

  /**
   * Stop the lcores (they flush their TX buffers), stop and close the ports
   * (every ring mbuf back in the pool), stop the device thread (wires
   * flushed). Returns the lcores' results and the mbufs still in use.
   */
  async stop(): Promise<{ leaked: number; lcoreError: unknown }> {
    this.eal.stop();
    let lcoreError: unknown = null;
    try {
      await this.done;
    } catch (e) {
      lcoreError = e;
    }
    await this.bus.close();
    await this.eal.close();
    return { leaked: this.pool.inUse(), lcoreError };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type Memory, type PinResult, TpdkError } from "@tpdk/eal";
import { QUEUE_SIZE_MAX, TRANSPORT_MAX_QUEUES, VIRTIO_NET_F_MQ, hasFeature } from "@tpdk/virtio";
import type { DeviceConfig, LoopConfig } from "./config.js";
import { DeviceLoop } from "./device-loop.js";
import { initTransport } from "./device/config-space.js";
import { CTL_DOORBELL, CTL_STOP, CTL_ZONE_BYTES, DEV_ZONE_BYTES, scratchZoneBytes } from "./device/layout.js";
import { type FeatureName, offeredFeatures } from "./device/offer.js";
import { deviceFaultFromEnv } from "./faults.js";
import { VhostDevice } from "./vhost-device.js";
import type { Wire } from "./wires/wire.js";
import { DEVICE_WIRE_STATS_BYTES, type DeviceWireSpec } from "./wires/wire-registry.js";

export interface VhostOptions {
  /** Pin the device thread to this CPU (pick one no lcore uses, e.g. eal.serviceCpu()). Default: unpinned. */
  cpu?: number;
  /** Never sleep when idle (benchmarks where the device thread has a CPU of its own). Default false. */
  busyPoll?: boolean;
  /** Zone name prefix, so several Vhosts can share one memory. Default "vhost". */
  prefix?: string;
  /** Empty passes before the thread prepares to sleep. Default 256. */
  spinPasses?: number;
  /** Longest sleep on the doorbell, ms (bounds idle trap latency and the heartbeat period). Default 1. */
  maxSleepMs?: number;
  /**
   * A started device delivers received frames only once the EAL's lcores
   * have launched (`lcoresLaunched`): its wire starts with the forwarding,
   * as a peer's traffic starts once the application polls, so a paced
   * generator's first frame finds the lcore polling. Then, as with a NIC,
   * only a full RX ring makes it miss frames. For applications that launch
   * lcores (the vdev bus sets it); default false: wires start at DRIVER_OK.
   */
  rxAfterLaunch?: boolean;
}

export interface DeviceOptions {
  /** Device name, e.g. "virtio0" (zone "<prefix>.<name>" holds its transport). */
  name: string;
  /** What the device is attached to (a WireSpec from parseWireSpec, or a test wire). */
  wire: DeviceWireSpec;
  /** Default 02:74:70:64:00:<index>. */
  mac?: string;
  /** Default 1500 (offered with the MTU feature). */
  mtu?: number;
  /**
   * max_virtqueue_pairs (one pair per lcore that polls the device). Default 1,
   * at most 31. More than 1 needs MQ (and so CTRL_VQ) offered; the driver
   * enables them with VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET.
   */
  queuePairs?: number;
  /** Largest queue size the device accepts (power of two). Default 4096. */
  maxQueueSize?: number;
  /** Switch offered features off (`{ MRG_RXBUF: false }`). Default: all of OFFERABLE_FEATURES on. */
  offer?: Partial<Record<FeatureName, boolean>>;
  /** Most frames / chains handled per queue per pass. Default 64. */
  burst?: number;
  /** Link state at start. Default up. */
  linkUp?: boolean;
}

/** How the device thread started. */
export interface VhostStartInfo {
  /** Pinning result, null when no cpu was asked for. */
  readonly pin: PinResult | null;
}

/** The device's largest queue when addDevice() is not given maxQueueSize. */
export const DEFAULT_MAX_QUEUE_SIZE = 4096;
/** Most queue pairs per device: 2 * 31 data queues + the control queue = 63 <= TRANSPORT_MAX_QUEUES. */
export const MAX_QUEUE_PAIRS = (TRANSPORT_MAX_QUEUES - 1) >>> 1;
const DEFAULT_BURST = 64;
const ZONE_NAME_MAX = 47;

type State = "created" | "starting" | "running" | "stopped" | "in-thread";

/**
 * The software virtio-net device side (vhost): devices created on the main
 * thread, served by ONE device thread that busy-polls all their queues.
 *
 *   const vhost = new Vhost(mem, { cpu: eal.serviceCpu() });
 *   const dev = vhost.addDevice({ name: "virtio0", wire: spec });
 *   await vhost.start();          // the thread is polling
 *   ... driver probes dev.transportOffset ...
 *   await vhost.stop();           // wires flushed and closed, thread joined
 *
 * Errors inside the device thread never cross as exceptions: they are counted
 * (dev.stats().errInternal), logged once, and reject `failed`.
 */
export class Vhost {
  readonly mem: Memory;
  readonly prefix: string;
  /** Byte offset of the doorbell word (the same for every device of this Vhost). */
  readonly doorbellAddr: number;
  /** Rejects when the device thread hits an unexpected exception or dies (never resolves). */
  readonly failed: Promise<never>;
  private readonly opts: Required<Omit<VhostOptions, "cpu" | "prefix">> & { cpu: number };
  private readonly ctlOffset: number;
  private readonly memLo: number;
  private readonly devs: VhostDevice[] = [];
  private state: State = "created";
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;
  private rejectFailed!: (e: Error) => void;
  private failedOnce = false;

  constructor(mem: Memory, opts: VhostOptions = {}) {
    this.mem = mem;
    this.prefix = opts.prefix ?? "vhost";
    const cpu = opts.cpu ?? -1;
    if (!Number.isInteger(cpu) || cpu < -1) throw new TpdkError("EINVAL", `vhost: cpu ${opts.cpu} is not a CPU number`);
    this.opts = {
      cpu,
      busyPoll: opts.busyPoll ?? false,
      spinPasses: positiveInt("spinPasses", opts.spinPasses ?? 256, 0, 1 << 24),
      maxSleepMs: opts.maxSleepMs ?? 1,
      rxAfterLaunch: opts.rxAfterLaunch ?? false,
    };
    if (!(this.opts.maxSleepMs > 0 && this.opts.maxSleepMs <= 100)) {
      throw new TpdkError("EINVAL", `vhost: maxSleepMs ${opts.maxSleepMs} must be in (0, 100]`);
    }
    this.ctlOffset = mem.reserve(`${this.prefix}.ctl`, CTL_ZONE_BYTES, 64).offset;
    this.doorbellAddr = this.ctlOffset + CTL_DOORBELL;
    // Drivers may point descriptors anywhere in the buffer except the EAL header.
    this.memLo = Math.min(...mem.zones().map((z) => z.offset));
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => {}); // awaiting it is optional
  }

  get devices(): readonly VhostDevice[] {
    return this.devs;
  }

  /** Create a device: reserve its zones, write its transport header (before start()). */
  addDevice(o: DeviceOptions): VhostDevice {
    if (this.state !== "created") throw new TpdkError("EBUSY", "vhost: add devices before start()");
    const name = o.name;
    if (typeof name !== "string" || !/^[A-Za-z0-9_:-]+$/.test(name)) {
      throw new TpdkError("EINVAL", `vhost: bad device name "${name}"`);
    }
    if (`${this.prefix}.${name}.scratch`.length > ZONE_NAME_MAX) throw new TpdkError("EINVAL", `vhost: device name "${name}" is too long`);
    if (this.devs.some((d) => d.name === name)) throw new TpdkError("EEXIST", `vhost: device "${name}" already exists`);
    const index = this.devs.length;
    // Every pair's two queues plus the control queue must fit the transport's notify/interrupt words.
    const queuePairs = positiveInt("queuePairs", o.queuePairs ?? 1, 1, MAX_QUEUE_PAIRS);
    const maxQueueSize = positiveInt("maxQueueSize", o.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE, 1, QUEUE_SIZE_MAX);
    if ((maxQueueSize & (maxQueueSize - 1)) !== 0) throw new TpdkError("EINVAL", `vhost: maxQueueSize ${maxQueueSize} is not a power of two`);
    const mtu = positiveInt("mtu", o.mtu ?? 1500, 68, 65535);
    const burst = positiveInt("burst", o.burst ?? DEFAULT_BURST, 1, 1024);
    const mac = parseMac(o.mac ?? `02:74:70:64:00:${index.toString(16).padStart(2, "0")}`);
    const offered = offeredFeatures(o.offer);
    if (queuePairs > 1 && !hasFeature(offered, VIRTIO_NET_F_MQ)) {
      throw new TpdkError("EINVAL", `vhost: ${name}: ${queuePairs} queue pairs need the MQ feature`);
    }
    if (!o.wire || typeof o.wire.kind !== "string") throw new TpdkError("EINVAL", `vhost: ${name}: no wire`);
    const zone = this.mem.reserve(`${this.prefix}.${name}`, DEV_ZONE_BYTES, 64);
    const scratch = this.mem.reserve(`${this.prefix}.${name}.scratch`, scratchZoneBytes(queuePairs), 64);
    const wireStats = this.mem.reserve(`${this.prefix}.${name}.wire`, DEVICE_WIRE_STATS_BYTES, 64);
    const config: DeviceConfig = {
      name,
      index,
      zoneOffset: zone.offset,
      scratchOffset: scratch.offset,
      wireStatsOffset: wireStats.offset,
      queuePairs,
      maxQueueSize,
      mtu,
      mac,
      offeredLo: offered.lo,
      offeredHi: offered.hi,
      burst,
      wire: o.wire,
    };
    initTransport(this.mem, config, this.doorbellAddr, o.linkUp ?? true);
    const dev = new VhostDevice(this.mem, config);
    this.devs.push(dev);
    return dev;
  }

  /** The device thread's configuration (structured-cloneable). */
  loopConfig(): LoopConfig {
    return {
      ctlOffset: this.ctlOffset,
      memLo: this.memLo,
      busyPoll: this.opts.busyPoll,
      spinPasses: this.opts.spinPasses,
      maxSleepMs: this.opts.maxSleepMs,
      rxAfterLaunch: this.opts.rxAfterLaunch,
      cpu: this.opts.cpu,
      devices: this.devs.map((d) => d.config),
    };
  }

  /**
   * Run the devices on the calling thread instead of a device thread: the
   * returned loop's pass() steps every device once (deterministic tests,
   * single-thread benchmarks). `wires` replaces the wire of the named devices.
   */
  createLoop(wires: Readonly<Record<string, Wire>> = {}): DeviceLoop {
    if (this.state !== "created") throw new TpdkError("EBUSY", "vhost: already started");
    this.state = "in-thread";
    return new DeviceLoop(this.mem, this.loopConfig(), wires);
  }

  /** Spawn (and pin) the device thread; resolves once it is polling. */
  async start(): Promise<VhostStartInfo> {
    if (this.state !== "created") throw new TpdkError("EBUSY", `vhost: cannot start (${this.state})`);
    const url = new URL("../dist/device-worker.js", import.meta.url);
    if (!fs.existsSync(fileURLToPath(url))) {
      throw new TpdkError("ENOENT", `vhost: ${fileURLToPath(url)} is missing; run pnpm build`);
    }
    const fault = deviceFaultFromEnv();
    this.state = "starting";
    const worker = new Worker(url, { workerData: { ...this.loopConfig(), sab: this.mem.sab, fault } });
    this.worker = worker;
    this.exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    return new Promise<VhostStartInfo>((resolve, reject) => {
      let started = false;
      const failNow = (e: Error): void => {
        if (!started) reject(e);
        this.fail(e);
      };
      worker.on("message", (m: WorkerMessage) => {
        if (m.type === "ready") {
          started = true;
          this.state = "running";
          resolve({ pin: m.pin });
        } else if (m.type === "device-error") {
          process.stderr.write(`tpdk: vhost: ${m.device}: ${m.message} (device needs reset)\n`);
          this.fail(new TpdkError(m.code, `vhost: ${m.device}: ${m.message}`));
        } else if (m.type === "fatal") {
          const e = new TpdkError(m.code, `vhost: device thread failed: ${m.message}`);
          if (m.stack) e.stack = m.stack;
          failNow(e);
        }
      });
      worker.on("error", (e) => failNow(e));
      worker.on("exit", (code) => {
        this.state = "stopped";
        if (!this.stopping) failNow(new TpdkError("EDEVICE", `vhost: device thread exited unexpectedly (code ${code})`));
      });
    });
  }

  /** Ask the thread to stop: it flushes and closes the wires and exits. Resolves once it has. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.worker || this.state === "stopped") {
      this.state = "stopped";
      return;
    }
    this.stopping = true;
    const i32 = this.mem.i32;
    // Pairs with the thread's Atomics.load of the stop word once per pass.
    Atomics.store(i32, (this.ctlOffset + CTL_STOP) >>> 2, 1);
    Atomics.notify(i32, (this.ctlOffset + CTL_DOORBELL) >>> 2);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited!.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      await this.worker.terminate();
      throw new TpdkError("ETIMEDOUT", `vhost: device thread did not stop within ${timeoutMs} ms; terminated`);
    }
  }

  /** Terminate the device thread abruptly (fault tests): no flush, drivers see the heartbeat stop. */
  async kill(): Promise<void> {
    if (!this.worker) return;
    this.stopping = true;
    await this.worker.terminate();
    this.state = "stopped";
  }

  private fail(e: Error): void {
    if (this.failedOnce) return;
    this.failedOnce = true;
    this.rejectFailed(e);
  }
}

type WorkerMessage =
  | { type: "ready"; pin: PinResult | null }
  | { type: "device-error"; device: string; message: string; code: string; stack: string }
  | { type: "fatal"; message: string; code: string; stack: string }
  | { type: "stopped" };

function positiveInt(what: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new TpdkError("EINVAL", `vhost: ${what} ${v} must be an integer in ${min}..${max}`);
  return v;
}

function parseMac(s: string): number[] {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(s);
  if (!m) throw new TpdkError("EINVAL", `vhost: bad MAC address "${s}"`);
  return m.slice(1).map((h) => parseInt(h, 16));
}

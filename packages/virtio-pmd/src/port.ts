import { type Memory, TpdkError } from "@tpdk/eal";
import { Mbufs } from "@tpdk/mbuf";
import {
  type Features,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  featureNames,
  txQueueIndex,
} from "@tpdk/virtio";
import { ControlSender } from "./ctrl-sender.js";
import { DeviceInit } from "./device-init.js";
import { formatMac } from "./mac.js";
import { type TxMode, resolveOptions } from "./options.js";
import { PortHealth } from "./port-health.js";
import { PMD_MAX_PORTS, TXM_AUTO, TXM_CHAINED, TXM_INDIRECT, TXM_PUSH } from "./port-layout.js";
import { PortQueues } from "./port-queues.js";
import { PortLifecycle } from "./port-state.js";
import { PortStats } from "./port-stats.js";
import { PortTableEntry } from "./port-table.js";
import type { LinkStatus, PortInfo, ProbeArgs, RxQueueConf, TxQueueConf } from "./port-types.js";
import { type EthStats, type XStat, readQueueStats } from "./stats.js";
import { bindThreadMemory } from "./registry.js";
import { SharedMemoryTransport, type VirtioTransport } from "./transport.js";

export type { LinkStatus, PortInfo, ProbeArgs, RxQueueConf, TxQueueConf } from "./port-types.js";

const TXM_CODES: Record<TxMode, number> = { auto: TXM_AUTO, chained: TXM_CHAINED, push: TXM_PUSH, indirect: TXM_INDIRECT };
/** How long stop() waits for the device to consume outstanding TX before resetting it. */
export const STOP_DRAIN_MS = 1000;
/** How long a ring reset under running lcores (onRingsLost) waits for each queue's object to leave its burst. */
const RESET_PARK_MS = 500;

/**
 * An ethdev-like virtio-net port: the control path, on the main thread.
 * probe -> configure -> rx/txQueueSetup -> start -> (lcores burst) -> stop -> close.
 *
 * The ethdev API and its state machine; each concern is owned by one object:
 *
 *   lifecycle  port-state.ts    tagged-union state, published to the port table
 *   init       device-init.ts   §3.1.1 bring-up, the negotiated results, resets
 *   queues     port-queues.ts   queue slots: setup, program, open/close, release
 *   ctrl       ctrl-sender.ts   the control queue and its commands
 *   health     port-health.ts   liveness (heartbeat, timeouts) and DEVICE_NEEDS_RESET
 *   counters   port-stats.ts    stats/xstats with reset baselines
 *   entry      port-table.ts    this port's entry in the shared port table
 *
 * Every failing step sets FAILED in the device status and throws TpdkError
 * naming the step. Queue state and counters live in shared memory so lcores
 * (rxBurst/txBurst) drive queues while this object reads their statistics.
 *
 * Contract: lcores stop calling rxBurst/txBurst on a port before stop() and
 * resume after start(), as with DPDK.
 */
export class VirtioPort {
  readonly portId: number;
  readonly name: string;
  readonly mem: Memory;
  /** The device's transport as the port uses it: traps fail at once (ENODEV) once the device is known dead. */
  readonly transport: VirtioTransport;
  readonly #opts: ReturnType<typeof resolveOptions>;
  readonly #entry: PortTableEntry;
  readonly #lifecycle: PortLifecycle;
  readonly #health: PortHealth;
  readonly #init: DeviceInit;
  readonly #queues: PortQueues;
  readonly #ctrl: ControlSender;
  readonly #counters: PortStats;
  #promisc = false;

  private constructor(mem: Memory, args: ProbeArgs & { name: string }, transport: VirtioTransport) {
    this.mem = mem;
    this.portId = args.portId;
    this.name = args.name;
    this.#opts = resolveOptions(this.name, args.options);
    this.#health = new PortHealth(transport, this.#opts.heartbeatTimeoutMs);
    this.transport = this.#health.transport;
    this.#entry = new PortTableEntry(mem, this.portId);
    this.#lifecycle = new PortLifecycle(this.name, this.#entry);
    this.#init = new DeviceInit(this.name, this.portId, this.transport, this.#opts);
    this.#queues = new PortQueues(this.name, mem, new Mbufs(mem), this.portId, this.#entry, this.#init, this.transport, {
      txMode: TXM_CODES[this.#opts.txMode],
      queueSize: this.#opts.queueSize,
    });
    this.#ctrl = new ControlSender(this.name, mem, this.portId, this.#init, this.#health, this.#opts.trapTimeoutMs);
    this.#counters = new PortStats(mem);
    transport.onRingsLost?.(() => {
      if (this.#lifecycle.started) this.#queues.resetRings(RESET_PARK_MS);
    });
  }

  /**
   * Find and initialise the device: reset, ACKNOWLEDGE, DRIVER, feature
   * negotiation, FEATURES_OK (read back), device config, MAC. Queues come
   * later (configure / queue setup / start). Throws TpdkError naming the step.
   */
  static probe(mem: Memory, args: ProbeArgs): VirtioPort {
    const name = args.name ?? `virtio${args.portId}`;
    if (!Number.isInteger(args.portId) || args.portId < 0 || args.portId >= PMD_MAX_PORTS) {
      throw new TpdkError("EINVAL", `${name}: port id ${args.portId} out of range 0..${PMD_MAX_PORTS - 1}`);
    }
    if (!new PortTableEntry(mem, args.portId).free) {
      throw new TpdkError("EEXIST", `${name}: port ${args.portId} is already probed; close() it first`);
    }
    let transport = args.transport;
    if (!transport) {
      if (args.transportOffset === undefined) throw new TpdkError("EINVAL", `${name}: probe needs transportOffset or transport`);
      const o: { name: string; timeoutMs?: number } = { name };
      if (args.options?.trapTimeoutMs !== undefined) o.timeoutMs = args.options.trapTimeoutMs;
      transport = new SharedMemoryTransport(mem, args.transportOffset, o);
    }
    bindThreadMemory(mem);
    const port = new VirtioPort(mem, { ...args, name }, transport);
    const init = port.#init;
    init.init(true);
    port.#entry.publishProbe({
      features: init.features,
      hdrSize: init.hdrSize,
      txMode: TXM_CODES[port.#opts.txMode],
      transportOffset: args.transportOffset ?? 0,
      mac: init.mac,
      // Longer frames are counted and freed by txBurst.
      maxFrame: init.maxFrame,
    });
    port.#lifecycle.to("probed");
    return port;
  }

  /** mac= is told to the device at each start (VIRTIO_NET_CTRL_MAC_ADDR_SET, §5.1.6.5.2). */
  get #macToSet(): boolean {
    return this.#opts.mac !== undefined && this.#init.has(VIRTIO_NET_F_CTRL_MAC_ADDR);
  }

  /**
   * rte_eth_dev_configure: queue counts, each at most max_virtqueue_pairs
   * (the device's, with MQ negotiated; 1 without) and PMD_MAX_QUEUES. With
   * more than one of either, start() enables max(nbRx, nbTx) pairs with
   * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET; the device then steers RX by flow over
   * the first nbRx receive queues it has buffers for.
   */
  configure(nbRxQueues: number, nbTxQueues: number): void {
    this.#lifecycle.require("configure", "probed", "configured", "stopped");
    const max = this.#init.maxPairs;
    for (const [what, n] of [["rx", nbRxQueues], ["tx", nbTxQueues]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > max) {
        throw new TpdkError("EINVAL", `${this.name}: ${n} ${what} queues requested, at most ${max}: ${this.#init.pairsLimit()}`);
      }
    }
    if (nbRxQueues + nbTxQueues === 0) throw new TpdkError("EINVAL", `${this.name}: configure needs at least one queue`);
    this.#queues.configure(nbRxQueues, nbTxQueues);
    this.#lifecycle.to("configured");
  }

  /** rte_eth_rx_queue_setup. Buffers are posted at start(). */
  rxQueueSetup(q: number, conf: RxQueueConf): void {
    this.#lifecycle.require("rxQueueSetup", "configured", "stopped");
    this.#queues.setupRx(q, conf.pool, conf.nbDesc);
  }

  /** rte_eth_tx_queue_setup. */
  txQueueSetup(q: number, conf: TxQueueConf = {}): void {
    this.#lifecycle.require("txQueueSetup", "configured", "stopped");
    this.#queues.setupTx(q, conf.nbDesc, conf.txFreeThresh);
  }

  /**
   * rte_eth_dev_start: program every queue, post RX buffers, DRIVER_OK.
   * Prints nothing; returns what the app prints ("Port N, MAC address: ...").
   */
  start(): PortInfo {
    this.#lifecycle.require("start", "configured", "stopped");
    const queues = this.#queues;
    queues.requireAllSetUp();
    const init = this.#init;
    const pairs = queues.pairs;
    try {
      if (init.isReset) init.init(false);
      init.step("queue setup", () => queues.program());
      if (init.has(VIRTIO_NET_F_CTRL_VQ)) init.step("control queue setup", () => this.#ctrl.program());
      init.driverOk();
      this.#lifecycle.beginStarting();
      if (pairs > 1) {
        // The device uses only pair 0 until it has returned this command.
        init.step("VQ_PAIRS_SET", () => this.ctrlCommand(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, [pairs & 0xff, pairs >>> 8]));
      }
      if (this.#macToSet) init.step("MAC_ADDR_SET", () => this.ctrlCommand(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, init.mac));
      init.step("RX notify", () => queues.kickRx());
    } catch (e) {
      // Whatever step failed, before or after DRIVER_OK: reset, FAILED, and every mbuf the RX rings took comes back.
      this.#lifecycle.abortStarting();
      init.abort(this.#health.alive);
      queues.release();
      throw e;
    }
    this.#health.arm(this.#configChangeWords(pairs), this.mem.i32);
    // Open the queues to the lcores last: a new run generation per queue.
    queues.open();
    this.#lifecycle.to("started");
    return this.info();
  }

  /**
   * rte_eth_dev_stop: wait (up to `drainMs`) for the device to consume
   * outstanding TX, reset the device, then free every mbuf the RX and TX
   * rings still hold, so every mbuf is back in its pool. Lcores must have
   * stopped bursting on this port.
   */
  stop(drainMs = STOP_DRAIN_MS): void {
    if (!this.#lifecycle.started) return;
    // (Skipped for a device known dead: it consumes nothing.)
    if (this.#health.alive) this.#queues.drainTx(Date.now() + drainMs);
    this.#queues.close();
    this.#health.disarm();
    try {
      this.#init.reset(this.#health.alive);
    } catch (e) {
      // A device that died under us is not an error of stop(): the port is stopped and its mbufs come back.
      if (this.#health.alive) throw e;
    } finally {
      // Even with a dead device the mbufs come back: nobody will touch these buffers again.
      this.#queues.release();
      this.#lifecycle.to("stopped");
    }
  }

  /** rte_eth_dev_close: stop if needed, reset the device, free the port id. */
  close(): void {
    try {
      if (this.#lifecycle.started) this.stop();
      else if (!this.#init.isReset && this.#health.alive) {
        try {
          this.#init.reset(true);
        } catch {
          // Closing a port on a dead device still frees the port.
        }
      }
    } finally {
      // Whatever the rings still hold goes back to its pool (each owner slot is cleared once, so
      // this frees nothing twice after stop()); the device was reset above or is dead.
      this.#queues.release();
      this.#lifecycle.to("closed");
    }
  }

  /** rte_eth_link_get: down while stopped, and once the device is known dead (no trap is made then). */
  linkStatus(): LinkStatus {
    return { up: this.#linkUpNow(), speed: 10000, duplex: "full" };
  }

  /**
   * Watchdog, main thread only (cold; call it from a timer, never from the
   * data path): samples the device's heartbeat and returns false once it has
   * not moved for the heartbeatTimeoutMs option (default 2000 ms). A dead
   * device: link down, xstat `device_not_answering` counted, `deviceFault`
   * says why; the port makes no more traps, so stop() and close() return at
   * once (and still free every mbuf the rings hold). Lcores keep getting 0
   * from rxBurst and a ring that never drains from txBurst: the app should
   * stop them and close the port.
   *
   * Also false once the device has set DEVICE_NEEDS_RESET (§2.1.2; read
   * after a configuration change notification):
   * link down, xstat `device_needs_reset`, `deviceFault` says so and
   * `needsReset` is true; the device is alive, so stop() resets it and
   * start() brings the port up again.
   */
  checkDevice(now = performance.now()): boolean {
    return this.#health.check(now, this.#lifecycle.started, this.mem.i32);
  }

  /**
   * Why the port cannot carry traffic: the device is dead ("no heartbeat for
   * 512 ms", "a register access timed out"), or it set DEVICE_NEEDS_RESET
   * after start ("device needs reset ..."; stop() and start() recover). Null
   * while all is well.
   */
  get deviceFault(): string | null {
    return this.#health.fault;
  }

  /** The device set DEVICE_NEEDS_RESET since the last start (noticed by checkDevice() or linkStatus()). */
  get needsReset(): boolean {
    return this.#health.needsReset;
  }

  /**
   * The app knows the device is gone (its thread was killed, or another port
   * served by the same thread went silent): treat it as dead now, as
   * checkDevice() would. Counted like any other death; the first reason wins.
   */
  markDeviceDead(reason: string): void {
    this.#health.declare(reason);
  }

  macAddr(): Uint8Array {
    return Uint8Array.from(this.#init.mac);
  }

  /**
   * Accepted without a command: this driver does not negotiate
   * VIRTIO_NET_F_CTRL_RX (it programs no receive filter), and without it the
   * device applies none and delivers every frame (§5.1.6.5.1).
   */
  promiscuousEnable(): void {
    this.#promisc = true;
  }
  promiscuousDisable(): void {
    this.#promisc = false;
  }
  get promiscuous(): boolean {
    return this.#promisc;
  }

  /** Negotiated features. */
  features(): Features {
    return this.#init.features;
  }
  /** Features the device offered. */
  deviceFeatures(): Features {
    return this.#init.offered;
  }
  get maxQueuePairs(): number {
    return this.#init.maxPairs;
  }
  get started(): boolean {
    return this.#lifecycle.started;
  }
  /** VIRTIO_F_RING_PACKED negotiated: every data queue is a packed ring (PackedRxQueue / PackedTxQueue). */
  get packed(): boolean {
    return this.#init.packed;
  }

  /** rte_eth_stats_get. Counters since probe or the last statsReset(). imissed: frames the device dropped are the device's to count (0 here). */
  stats(): EthStats {
    return this.#counters.stats(this.#queues.zones(false), this.#queues.zones(true));
  }

  /** rte_eth_xstats_get: per-queue counters by DPDK's virtio names, plus kicks and device-misbehaviour counters. */
  xstats(): XStat[] {
    return this.#counters.xstats(this.#queues.zones(false), this.#queues.zones(true), this.#portCounters());
  }

  /**
   * rte_eth_stats_reset. The counters belong to the lcores (single writer),
   * so a reset records a baseline instead of writing them.
   */
  statsReset(): void {
    this.#counters.reset(this.#queues.zones(false), this.#queues.zones(true), this.#portCounters());
  }

  /** Raw per-queue counters (tests and diagnostics). */
  queueStats(tx: boolean, q: number): Float64Array {
    const zone = this.#queues.zone(tx, q);
    if (zone === 0) throw new TpdkError("EINVAL", `${this.name}: no ${tx ? "tx" : "rx"} queue ${q}`);
    return readQueueStats(this.mem, zone);
  }

  info(): PortInfo {
    const init = this.#init;
    return {
      portId: this.portId,
      name: this.name,
      mac: this.macAddr(),
      macString: formatMac(init.mac),
      linkUp: this.#linkUpNow(),
      mtu: init.mtu,
      features: featureNames(init.features),
      hdrSize: init.hdrSize,
      rxQueueSizes: this.#queues.sizes(false),
      txQueueSizes: this.#queues.sizes(true),
      txMode: this.#opts.txMode,
    };
  }

  /**
   * Send a control command and check its ack (control path, main thread;
   * blocks until the device answers, at most trapTimeoutMs). A command that
   * times out declares the device dead, as a trap that times out does.
   * Throws TpdkError naming the command (ECTRL, ETIMEDOUT, EPROTO, ENODEV).
   */
  ctrlCommand(cls: number, cmd: number, data: ArrayLike<number> = []): void {
    this.#ctrl.send(cls, cmd, data, this.#lifecycle.commandsAllowed);
  }

  /** The port's own (main-thread) counters, after the per-queue ones. */
  #portCounters(): XStat[] {
    return [
      { name: "device_not_answering", value: this.#health.deaths },
      { name: "device_needs_reset", value: this.#health.resetsNeeded },
    ];
  }

  #linkUpNow(): boolean {
    return this.#health.linkUp(this.#lifecycle.started, this.#init.features);
  }

  /**
   * The interrupt words that tell of a configuration change (reset-watch.ts):
   * our transport wakes every queue's word then. Only those of queues on
   * which the driver asks for no used-buffer interrupt are watched, so they
   * move (almost) only for configuration changes: the control queue's, else
   * the transmit queues' (under EVENT_IDX a TX word also moves once per 65536
   * packets). RX words move with data in interrupt mode, and some devices
   * signal RX even in poll mode.
   */
  #configChangeWords(pairs: number): number[] {
    const cvq = this.#ctrl.vq;
    if (cvq !== null) return [this.transport.interruptAddr(cvq)];
    const out: number[] = [];
    for (let p = 0; p < pairs; p++) out.push(this.transport.interruptAddr(txQueueIndex(p)));
    return out;
  }
}

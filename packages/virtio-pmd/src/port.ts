import { type Memory, TpdkError } from "@tpdk/eal";
import { Mbufs, Mempool, PKTMBUF_HEADROOM } from "@tpdk/mbuf";
import {
  AVAIL_IDX,
  ETH_HDR_LEN,
  ETH_MAX_FRAME,
  type Features,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  USED_IDX,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  ctrlQueueIndex,
  featureNames,
  hasFeature,
  netHdrSize,
  rxQueueIndex,
  txQueueIndex,
} from "@tpdk/virtio";
import {
  addStatus,
  queueMaxSize,
  readDeviceFeatures,
  readLinkUp,
  readNetConfig,
  readStatus,
  resetDevice,
  setFailed,
  setupQueue,
  writeDriverFeatures,
} from "./bringup.js";
import {
  PMD_MAX_PORTS,
  PMD_MAX_QUEUES,
  PORT_CONFIGURED,
  PORT_FREE,
  PORT_PROBED,
  PORT_STARTED,
  PORT_STOPPED,
  PORT_TABLE_ZONE,
  PORT_ENTRY,
  P_FEAT_HI,
  P_FEAT_LO,
  P_HDR_SIZE,
  P_MAC,
  P_MAX_FRAME,
  P_QUEUE_SEQ,
  P_NB_RXQ,
  P_NB_TXQ,
  P_RXQ_ZONES,
  P_STATE,
  P_TRANSPORT,
  P_TXQ_ZONES,
  P_TX_MODE,
  QF_ANY_LAYOUT,
  QF_EVENT_IDX,
  QF_INDIRECT,
  QF_IN_ORDER,
  QF_MRG_RXBUF,
  QF_PACKED,
  Q_AVAIL,
  Q_DESC,
  Q_FREE_THRESH,
  Q_NOTIFY,
  Q_POOL_ID,
  Q_POOL_NAME,
  Q_POOL_NAME_BYTES,
  Q_USED,
  TXM_AUTO,
  TXM_CHAINED,
  TXM_INDIRECT,
  TXM_PUSH,
  portEntry,
} from "./layout.js";
import { formatMac, defaultMac, isZeroMac } from "./mac.js";
import { CTRL_QUEUE_SIZE, ControlQueue } from "./ctrl-queue.js";
import { IDLE_QUEUE_SIZE, programIdleQueue } from "./idle-queue.js";
import { negotiateFeatures } from "./negotiate.js";
import { type TxMode, type VirtioPmdOptions, resolveOptions } from "./options.js";
import { type EthStats, type XStat, readQueueStats, sumStats, xstatsOf } from "./stats.js";
import { SharedMemoryTransport, type VirtioTransport } from "./transport.js";
import { DeviceLiveness, GuardedTransport } from "./liveness.js";
import { ResetWatch } from "./reset-watch.js";
import { bindThreadMemory } from "./registry.js";
import {
  type QueueHeader, closeQueue, fillRx, openQueue, releaseQueue, reserveQueueZone, resetRing, writeQueueHeader,
} from "./queue-zone.js";

export interface ProbeArgs {
  /** ethdev port id, 0..PMD_MAX_PORTS-1. */
  portId: number;
  /** For messages, e.g. "virtio0". Default "virtio<portId>". */
  name?: string;
  /** Byte offset of the device's transport region in EAL memory (the real, trap-based transport). */
  transportOffset?: number;
  /** Or a transport object (tests: InProcessTransport). Wins over transportOffset. */
  transport?: VirtioTransport;
  options?: VirtioPmdOptions;
}

export interface RxQueueConf {
  /** Descriptors; default the port's queue_size. Capped at the device's maximum. */
  nbDesc?: number;
  /** The mempool RX buffers come from (or its name). */
  pool: Mempool | string;
}

export interface TxQueueConf {
  nbDesc?: number;
  /** Reclaim used descriptors when fewer than this many are free. Default min(Q/4, 32). */
  txFreeThresh?: number;
}

/** What start() returns, so the app can print "Port N, MAC address: ..." as DPDK does. */
export interface PortInfo {
  portId: number;
  name: string;
  mac: Uint8Array;
  /** "02:70:64:6b:00:00" */
  macString: string;
  linkUp: boolean;
  mtu: number;
  features: string[];
  hdrSize: number;
  rxQueueSizes: number[];
  txQueueSizes: number[];
  txMode: TxMode;
}

export interface LinkStatus {
  up: boolean;
  /** Mb/s; virtio reports no speed without VIRTIO_NET_F_SPEED_DUPLEX, DPDK then says 10G. */
  speed: number;
  duplex: "full";
}

interface QueueSlot {
  zone: number;
  size: number;
  pool?: Mempool;
  /** queue_notify_off the device reported at the last start (control-path kicks). */
  notifyOff: number;
}

const TXM_CODES: Record<TxMode, number> = { auto: TXM_AUTO, chained: TXM_CHAINED, push: TXM_PUSH, indirect: TXM_INDIRECT };
/** One 802.1Q tag: a VLAN-tagged frame of MTU bytes is this much longer (DPDK's RTE_VLAN_HLEN). */
const VLAN_TAG_LEN = 4;
/** How long stop() waits for the device to consume outstanding TX before resetting it. */
export const STOP_DRAIN_MS = 1000;
const RESET_TIMEOUT_MS = 1000;
/** A word nobody notifies: Atomics.wait on it is a sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * An ethdev-like virtio-net port: the control path, on the main thread.
 * probe -> configure -> rx/txQueueSetup -> start -> (lcores burst) -> stop -> close.
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
  private readonly live: DeviceLiveness;
  private readonly opts: ReturnType<typeof resolveOptions>;
  private readonly entry: number;
  private readonly mbufs: Mbufs;
  private offered: Features = { lo: 0, hi: 0 };
  private negotiated: Features = { lo: 0, hi: 0 };
  private hdrSize = 12;
  private mac: Uint8Array = new Uint8Array(6);
  private mtu = 1500;
  private maxPairs = 1;
  /** max_virtqueue_pairs as the device reports it (1 without MQ): where its control queue is. */
  private devicePairs = 1;
  /** The control queue (CTRL_VQ negotiated), created at the first start. */
  private ctrlq: ControlQueue | null = null;
  /** Between DRIVER_OK and PORT_STARTED in start(): control commands may be sent. */
  private starting = false;
  private nbRx = 0;
  private nbTx = 0;
  private readonly rxq: (QueueSlot | undefined)[] = [];
  private readonly txq: (QueueSlot | undefined)[] = [];
  private state = PORT_FREE;
  private promisc = false;
  private baseline = new Map<string, number>();
  private deviceIsReset = false;
  /** DEVICE_NEEDS_RESET after start (reset-watch.ts). */
  private readonly resetWatch = new ResetWatch();

  private constructor(mem: Memory, args: ProbeArgs, transport: VirtioTransport) {
    this.mem = mem;
    this.portId = args.portId;
    this.name = args.name ?? `virtio${args.portId}`;
    this.opts = resolveOptions(this.name, args.options);
    this.live = new DeviceLiveness(() => transport.heartbeat(), this.opts.heartbeatTimeoutMs);
    this.transport = new GuardedTransport(transport, this.live);
    this.entry = portEntry(portTable(mem), this.portId);
    this.mbufs = new Mbufs(mem);
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
    const table = portTable(mem);
    const e = portEntry(table, args.portId);
    if (mem.u32[(e + P_STATE) >>> 2] !== PORT_FREE) {
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
    port.initDevice(true);
    const u32 = mem.u32;
    // Fresh entry, but the queue-object token sequence goes on (no token is ever reused).
    const seq = u32[(e + P_QUEUE_SEQ) >>> 2]!;
    u32.fill(0, e >>> 2, (e + PORT_ENTRY) >>> 2);
    u32[(e + P_QUEUE_SEQ) >>> 2] = seq;
    u32[(e + P_FEAT_LO) >>> 2] = port.negotiated.lo;
    u32[(e + P_FEAT_HI) >>> 2] = port.negotiated.hi;
    u32[(e + P_HDR_SIZE) >>> 2] = port.hdrSize;
    u32[(e + P_TX_MODE) >>> 2] = TXM_CODES[port.opts.txMode];
    u32[(e + P_TRANSPORT) >>> 2] = args.transportOffset ?? 0;
    mem.u8.set(port.mac, e + P_MAC);
    // What TX may send: the negotiated MTU (the device's limit, §5.1.4.1), else 1500, plus the
    // Ethernet header and one VLAN tag. Longer frames are counted and freed by txBurst.
    u32[(e + P_MAX_FRAME) >>> 2] = port.mtu + ETH_HDR_LEN + VLAN_TAG_LEN;
    port.setState(PORT_PROBED);
    return port;
  }

  // ---------------------------------------------------------------- bring-up

  /** Run `fn` as bring-up step `step`: on failure set FAILED and rethrow naming the step. */
  private step<T>(step: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      setFailed(this.transport);
      if (e instanceof TpdkError) {
        if (e.message.includes(`during ${step}`) || e.code === "EFEATURES") throw e;
        throw new TpdkError(e.code, `${e.message} (during ${step})`, { cause: e });
      }
      throw new TpdkError("EIO", `${this.name}: ${step} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** reset .. FEATURES_OK and config (first probe), or the same again before a restart. */
  private initDevice(first: boolean): void {
    const t = this.transport;
    this.step("reset", () => resetDevice(t, RESET_TIMEOUT_MS));
    this.step("ACKNOWLEDGE", () => addStatus(t, STATUS_ACKNOWLEDGE));
    this.step("DRIVER", () => addStatus(t, STATUS_DRIVER));
    this.step("feature negotiation", () => {
      const offered = readDeviceFeatures(t);
      if (!first && (offered.lo !== this.offered.lo || offered.hi !== this.offered.hi)) {
        throw new TpdkError("EFEATURES", `${this.name}: device features changed across a restart`);
      }
      this.offered = offered;
      if (first) this.negotiated = negotiateFeatures(this.name, offered, this.opts);
      writeDriverFeatures(t, this.negotiated);
    });
    this.step("FEATURES_OK", () => {
      addStatus(t, STATUS_FEATURES_OK);
      if ((readStatus(t) & STATUS_FEATURES_OK) === 0) {
        throw new TpdkError(
          "EFEATURES",
          `${this.name}: device refused FEATURES_OK for features [${featureNames(this.negotiated).join(", ")}]`,
        );
      }
    });
    this.deviceIsReset = false;
    const f = this.negotiated;
    this.hdrSize = netHdrSize(hasFeature(f, VIRTIO_F_VERSION_1), hasFeature(f, VIRTIO_NET_F_MRG_RXBUF));
    // The driver never writes the device configuration (§5.1.4.2: read-only in virtio 1.x): a
    // restart has nothing to redo here; start() sends MAC_ADDR_SET again after the reset.
    if (!first) return;
    const cfg = this.step("config read", () => readNetConfig(t, f));
    this.devicePairs = Math.max(1, cfg.maxPairs);
    this.maxPairs = Math.min(this.devicePairs, PMD_MAX_QUEUES);
    this.mtu = cfg.mtu ?? 1500;
    // mac= wins (given to the device with MAC_ADDR_SET when CTRL_MAC_ADDR is negotiated, else the
    // driver's own address with MAC left out: negotiate.ts); then the device's; then ours.
    if (this.opts.mac) this.mac = Uint8Array.from(this.opts.mac);
    else if (cfg.mac && !isZeroMac(cfg.mac)) this.mac = cfg.mac;
    else this.mac = defaultMac(this.portId);
  }

  /** mac= is told to the device at each start (VIRTIO_NET_CTRL_MAC_ADDR_SET, §5.1.6.5.2). */
  private get macToSet(): boolean {
    return this.opts.mac !== undefined && hasFeature(this.negotiated, VIRTIO_NET_F_CTRL_MAC_ADDR);
  }

  // ---------------------------------------------------------------- ethdev API

  /**
   * rte_eth_dev_configure: queue counts, each at most max_virtqueue_pairs
   * (the device's, with MQ negotiated; 1 without) and PMD_MAX_QUEUES. With
   * more than one of either, start() enables max(nbRx, nbTx) pairs with
   * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET; the device then steers RX by flow over
   * the first nbRx receive queues it has buffers for.
   */
  configure(nbRxQueues: number, nbTxQueues: number): void {
    this.requireState("configure", PORT_PROBED, PORT_CONFIGURED, PORT_STOPPED);
    for (const [what, n] of [["rx", nbRxQueues], ["tx", nbTxQueues]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > this.maxPairs) {
        throw new TpdkError("EINVAL", `${this.name}: ${n} ${what} queues requested, at most ${this.maxPairs}: ${this.pairsLimit()}`);
      }
    }
    if (nbRxQueues + nbTxQueues === 0) throw new TpdkError("EINVAL", `${this.name}: configure needs at least one queue`);
    this.nbRx = nbRxQueues;
    this.nbTx = nbTxQueues;
    this.rxq.length = 0;
    this.txq.length = 0;
    const u32 = this.mem.u32;
    u32[(this.entry + P_NB_RXQ) >>> 2] = nbRxQueues;
    u32[(this.entry + P_NB_TXQ) >>> 2] = nbTxQueues;
    this.setState(PORT_CONFIGURED);
  }

  /** rte_eth_rx_queue_setup. Buffers are posted at start(). */
  rxQueueSetup(q: number, conf: RxQueueConf): void {
    this.requireState("rxQueueSetup", PORT_CONFIGURED, PORT_STOPPED);
    if (!Number.isInteger(q) || q < 0 || q >= this.nbRx) throw new TpdkError("EINVAL", `${this.name}: rx queue ${q} not configured (have ${this.nbRx})`);
    const pool = typeof conf.pool === "string" ? Mempool.lookup(this.mem, conf.pool) : conf.pool;
    const mrg = hasFeature(this.negotiated, VIRTIO_NET_F_MRG_RXBUF);
    const room = pool.dataRoomSize - PKTMBUF_HEADROOM;
    const need = mrg ? 64 : Math.max(ETH_MAX_FRAME, this.mtu + 14);
    if (room < need) {
      throw new TpdkError(
        "EINVAL",
        `${this.name}: mempool "${pool.name}" has ${room} bytes after the ${PKTMBUF_HEADROOM}-byte headroom; rx queue needs ${need}${mrg ? "" : " (whole frames: MRG_RXBUF not negotiated)"}`,
      );
    }
    const vq = rxQueueIndex(q);
    const size = this.queueSize(vq, conf.nbDesc);
    const zone = reserveQueueZone(this.mem, this.entry, this.portId, false, q, size, this.packed);
    const u32 = this.mem.u32;
    const z = zone >>> 2;
    writeQueueHeader(this.mem, zone, this.queueHeader(vq, q, size, false));
    u32[z + (Q_POOL_ID >>> 2)] = pool.id;
    const nameBytes = new TextEncoder().encode(pool.name).subarray(0, Q_POOL_NAME_BYTES - 1);
    this.mem.u8.fill(0, zone + Q_POOL_NAME, zone + Q_POOL_NAME + Q_POOL_NAME_BYTES);
    this.mem.u8.set(nameBytes, zone + Q_POOL_NAME);
    this.rxq[q] = { zone, size, pool, notifyOff: 0 };
    u32[(this.entry + P_RXQ_ZONES + 4 * q) >>> 2] = zone;
  }

  /** rte_eth_tx_queue_setup. */
  txQueueSetup(q: number, conf: TxQueueConf = {}): void {
    this.requireState("txQueueSetup", PORT_CONFIGURED, PORT_STOPPED);
    if (!Number.isInteger(q) || q < 0 || q >= this.nbTx) throw new TpdkError("EINVAL", `${this.name}: tx queue ${q} not configured (have ${this.nbTx})`);
    const vq = txQueueIndex(q);
    const size = this.queueSize(vq, conf.nbDesc);
    const thresh = conf.txFreeThresh ?? Math.min(size >>> 2, 32);
    if (!Number.isInteger(thresh) || thresh < 1 || thresh >= size) {
      throw new TpdkError("EINVAL", `${this.name}: txFreeThresh ${thresh} must be in 1..${size - 1}`);
    }
    const zone = reserveQueueZone(this.mem, this.entry, this.portId, true, q, size, this.packed);
    writeQueueHeader(this.mem, zone, this.queueHeader(vq, q, size, true));
    this.mem.u32[(zone + Q_FREE_THRESH) >>> 2] = thresh;
    this.txq[q] = { zone, size, notifyOff: 0 };
    this.mem.u32[(this.entry + P_TXQ_ZONES + 4 * q) >>> 2] = zone;
  }

  /**
   * rte_eth_dev_start: program every queue, post RX buffers, DRIVER_OK.
   * Prints nothing; returns what the app prints ("Port N, MAC address: ...").
   */
  start(): PortInfo {
    this.requireState("start", PORT_CONFIGURED, PORT_STOPPED);
    for (let q = 0; q < this.nbRx; q++) if (!this.rxq[q]) throw new TpdkError("ESTATE", `${this.name}: rx queue ${q} is not set up`);
    for (let q = 0; q < this.nbTx; q++) if (!this.txq[q]) throw new TpdkError("ESTATE", `${this.name}: tx queue ${q} is not set up`);
    const t = this.transport;
    const pairs = Math.max(this.nbRx, this.nbTx);
    try {
      if (this.deviceIsReset) this.initDevice(false);
      this.step("queue setup", () => {
        for (let q = 0; q < this.nbRx; q++) this.programQueue(this.rxq[q]!, rxQueueIndex(q), false);
        for (let q = 0; q < this.nbTx; q++) this.programQueue(this.txq[q]!, txQueueIndex(q), true);
        // §5.1.6.5.5: VQ_PAIRS_SET(n) enables both queues of n pairs, and the driver MUST have
        // configured them. A pair the app set up on one side only gets an empty queue on the other.
        for (let p = 0; p < pairs; p++) {
          if (p >= this.nbRx) this.programIdle(rxQueueIndex(p));
          if (p >= this.nbTx) this.programIdle(txQueueIndex(p));
        }
      });
      if (hasFeature(this.negotiated, VIRTIO_NET_F_CTRL_VQ)) this.step("control queue setup", () => this.programCtrl());
      this.step("DRIVER_OK", () => {
        addStatus(t, STATUS_DRIVER_OK);
        const s = readStatus(t);
        if (s & (STATUS_DEVICE_NEEDS_RESET | STATUS_FAILED) || !(s & STATUS_DRIVER_OK)) {
          throw new TpdkError("EDEVICE", `${this.name}: device status 0x${s.toString(16)} after DRIVER_OK`);
        }
      });
      this.starting = true;
      if (pairs > 1) {
        // The device uses only pair 0 until it has returned this command.
        this.step("VQ_PAIRS_SET", () => this.ctrlCommand(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, [pairs & 0xff, pairs >>> 8]));
      }
      if (this.macToSet) this.step("MAC_ADDR_SET", () => this.ctrlCommand(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, this.mac));
      // Tell the device its receive buffers are there (DPDK notifies every RX queue at start): a
      // device that waits for a kick before looking at a ring would otherwise never see them.
      this.step("RX notify", () => {
        for (let q = 0; q < this.nbRx; q++) t.kick(this.rxq[q]!.notifyOff);
      });
    } catch (e) {
      // Whatever step failed, before or after DRIVER_OK: reset, FAILED, and every mbuf the RX rings took comes back.
      this.abortStart();
      throw e;
    } finally {
      this.starting = false;
    }
    this.resetWatch.arm(this.configChangeWords(pairs), this.mem.i32);
    // Open the queues to the lcores last: a new run generation per queue.
    for (let q = 0; q < this.nbRx; q++) openQueue(this.mem, this.rxq[q]!.zone);
    for (let q = 0; q < this.nbTx; q++) openQueue(this.mem, this.txq[q]!.zone);
    this.setState(PORT_STARTED);
    return this.info();
  }

  /**
   * rte_eth_dev_stop: wait (up to `drainMs`) for the device to consume
   * outstanding TX, reset the device, then free every mbuf the RX and TX
   * rings still hold, so every mbuf is back in its pool. Lcores must have
   * stopped bursting on this port.
   */
  stop(drainMs = STOP_DRAIN_MS): void {
    if (this.state !== PORT_STARTED) return;
    const { u16, u32 } = this.mem;
    const deadline = Date.now() + drainMs;
    for (let q = 0; q < this.nbTx && this.live.alive; q++) {
      const z = this.txq[q]!.zone;
      const availW = u32[(z + Q_AVAIL) >>> 2]! + AVAIL_IDX;
      const usedW = u32[(z + Q_USED) >>> 2]! + USED_IDX;
      // (Skipped for a device known dead: it consumes nothing.)
      while (Atomics.load(u16, usedW >>> 1) !== Atomics.load(u16, availW >>> 1) && Date.now() < deadline) {
        Atomics.wait(NAP, 0, 0, 1);
      }
    }
    for (let q = 0; q < this.nbRx; q++) closeQueue(this.mem, this.rxq[q]!.zone);
    for (let q = 0; q < this.nbTx; q++) closeQueue(this.mem, this.txq[q]!.zone);
    this.resetWatch.disarm();
    try {
      if (this.live.alive) resetDevice(this.transport, RESET_TIMEOUT_MS);
    } catch (e) {
      // A device that died under us is not an error of stop(): the port is stopped and its mbufs come back.
      if (this.live.alive) throw e;
    } finally {
      // Even with a dead device the mbufs come back: nobody will touch these buffers again.
      this.deviceIsReset = true;
      for (let q = 0; q < this.nbRx; q++) releaseQueue(this.mem, this.mbufs, this.rxq[q]!.zone);
      for (let q = 0; q < this.nbTx; q++) releaseQueue(this.mem, this.mbufs, this.txq[q]!.zone);
      this.setState(PORT_STOPPED);
    }
  }

  /** rte_eth_dev_close: stop if needed, reset the device, free the port id. */
  close(): void {
    try {
      if (this.state === PORT_STARTED) this.stop();
      else if (!this.deviceIsReset && this.live.alive) {
        try {
          resetDevice(this.transport, RESET_TIMEOUT_MS);
        } catch {
          // Closing a port on a dead device still frees the port.
        }
      }
    } finally {
      // Whatever the rings still hold goes back to its pool (each owner slot is cleared once, so
      // this frees nothing twice after stop()); the device was reset above or is dead.
      for (let q = 0; q < this.nbRx; q++) if (this.rxq[q]) releaseQueue(this.mem, this.mbufs, this.rxq[q]!.zone);
      for (let q = 0; q < this.nbTx; q++) if (this.txq[q]) releaseQueue(this.mem, this.mbufs, this.txq[q]!.zone);
      this.setState(PORT_FREE);
    }
  }

  /** rte_eth_link_get: down while stopped, and once the device is known dead (no trap is made then). */
  linkStatus(): LinkStatus {
    return { up: this.linkUpNow(), speed: 10000, duplex: "full" };
  }

  /**
   * Watchdog, main thread only (cold; call it from a timer, never from the
   * data path): samples the device's heartbeat and returns false once it has
   * not moved for the heartbeatTimeoutMs option (default 500 ms). A dead
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
    if (!this.live.check(now)) return false;
    // DEVICE_NEEDS_RESET (§2.1.2): a status read when a configuration change may have been
    // notified (reset-watch.ts). Main thread, off the data path.
    if (this.state === PORT_STARTED && this.resetWatch.due(this.mem.i32)) {
      try {
        this.resetWatch.note(readStatus(this.transport));
      } catch (e) {
        if (!this.live.alive) return false; // the read timed out: the device is dead, said above
        throw e;
      }
    }
    return this.resetWatch.reason === null;
  }

  /**
   * Why the port cannot carry traffic: the device is dead ("no heartbeat for
   * 512 ms", "a register access timed out"), or it set DEVICE_NEEDS_RESET
   * after start ("device needs reset ..."; stop() and start() recover). Null
   * while all is well.
   */
  get deviceFault(): string | null {
    return this.live.reason ?? this.resetWatch.reason;
  }

  /** The device set DEVICE_NEEDS_RESET since the last start (noticed by checkDevice() or linkStatus()). */
  get needsReset(): boolean {
    return this.resetWatch.reason !== null;
  }

  /**
   * The app knows the device is gone (its thread was killed, or another port
   * served by the same thread went silent): treat it as dead now, as
   * checkDevice() would. Counted like any other death; the first reason wins.
   */
  markDeviceDead(reason: string): void {
    this.live.declare(reason);
  }

  macAddr(): Uint8Array {
    return Uint8Array.from(this.mac);
  }

  /**
   * Accepted without a command: this driver does not negotiate
   * VIRTIO_NET_F_CTRL_RX (it programs no receive filter), and without it the
   * device applies none and delivers every frame (§5.1.6.5.1).
   */
  promiscuousEnable(): void {
    this.promisc = true;
  }
  promiscuousDisable(): void {
    this.promisc = false;
  }
  get promiscuous(): boolean {
    return this.promisc;
  }

  /** Negotiated features. */
  features(): Features {
    return this.negotiated;
  }
  /** Features the device offered. */
  deviceFeatures(): Features {
    return this.offered;
  }
  get maxQueuePairs(): number {
    return this.maxPairs;
  }
  get started(): boolean {
    return this.state === PORT_STARTED;
  }

  /** rte_eth_stats_get. Counters since probe or the last statsReset(). imissed: frames the device dropped are the device's to count (0 here). */
  stats(): EthStats {
    const s = sumStats(this.mem, this.rxZones(), this.txZones());
    return {
      ipackets: s.ipackets - (this.baseline.get("ipackets") ?? 0),
      opackets: s.opackets - (this.baseline.get("opackets") ?? 0),
      ibytes: s.ibytes - (this.baseline.get("ibytes") ?? 0),
      obytes: s.obytes - (this.baseline.get("obytes") ?? 0),
      imissed: 0,
      ierrors: s.ierrors - (this.baseline.get("ierrors") ?? 0),
      oerrors: s.oerrors - (this.baseline.get("oerrors") ?? 0),
      rx_nombuf: s.rx_nombuf - (this.baseline.get("rx_nombuf") ?? 0),
    };
  }

  /** rte_eth_xstats_get: per-queue counters by DPDK's virtio names, plus kicks and device-misbehaviour counters. */
  xstats(): XStat[] {
    return this.rawXstats().map((x) => ({ name: x.name, value: x.value - (this.baseline.get("x." + x.name) ?? 0) }));
  }

  /**
   * rte_eth_stats_reset. The counters belong to the lcores (single writer),
   * so a reset records a baseline here instead of writing them.
   */
  statsReset(): void {
    const s = sumStats(this.mem, this.rxZones(), this.txZones());
    this.baseline = new Map(Object.entries(s));
    for (const x of this.rawXstats()) this.baseline.set("x." + x.name, x.value);
  }

  /** Raw per-queue counters (tests and diagnostics). */
  queueStats(tx: boolean, q: number): Float64Array {
    const slot = (tx ? this.txq : this.rxq)[q];
    if (!slot) throw new TpdkError("EINVAL", `${this.name}: no ${tx ? "tx" : "rx"} queue ${q}`);
    return readQueueStats(this.mem, slot.zone);
  }

  info(): PortInfo {
    return {
      portId: this.portId,
      name: this.name,
      mac: this.macAddr(),
      macString: formatMac(this.mac),
      linkUp: this.linkUpNow(),
      mtu: this.mtu,
      features: featureNames(this.negotiated),
      hdrSize: this.hdrSize,
      rxQueueSizes: this.rxq.slice(0, this.nbRx).map((s) => s?.size ?? 0),
      txQueueSizes: this.txq.slice(0, this.nbTx).map((s) => s?.size ?? 0),
      txMode: this.opts.txMode,
    };
  }

  // ---------------------------------------------------------------- internals

  /** Per-queue counters, then the port's own (main-thread) ones. */
  private rawXstats(): XStat[] {
    const out = xstatsOf(this.mem, this.rxZones(), this.txZones());
    out.push({ name: "device_not_answering", value: this.live.deaths });
    out.push({ name: "device_needs_reset", value: this.resetWatch.count });
    return out;
  }

  private linkUpNow(): boolean {
    if (this.state !== PORT_STARTED || !this.live.alive || this.resetWatch.reason !== null) return false;
    try {
      // A device that needs a reset processes nothing: its link is down whatever the config says.
      if (!this.resetWatch.note(readStatus(this.transport))) return false;
      return readLinkUp(this.transport, this.negotiated);
    } catch (e) {
      // A trap that timed out declared the device dead: that is a link down, not an error.
      if (!this.live.alive) return false;
      throw e;
    }
  }

  private rxZones(): number[] {
    return this.rxq.slice(0, this.nbRx).map((s) => s?.zone ?? 0).filter((z) => z !== 0);
  }
  private txZones(): number[] {
    return this.txq.slice(0, this.nbTx).map((s) => s?.zone ?? 0).filter((z) => z !== 0);
  }

  private setState(s: number): void {
    this.state = s;
    Atomics.store(this.mem.u32, (this.entry + P_STATE) >>> 2, s);
  }

  private queueHeader(vq: number, queue: number, size: number, tx: boolean): QueueHeader {
    const f = this.negotiated;
    let flags = 0;
    if (hasFeature(f, VIRTIO_F_IN_ORDER)) flags |= QF_IN_ORDER;
    if (hasFeature(f, VIRTIO_F_EVENT_IDX)) flags |= QF_EVENT_IDX;
    if (hasFeature(f, VIRTIO_NET_F_MRG_RXBUF)) flags |= QF_MRG_RXBUF;
    if (hasFeature(f, VIRTIO_F_INDIRECT_DESC)) flags |= QF_INDIRECT;
    if (hasFeature(f, VIRTIO_F_VERSION_1) || hasFeature(f, VIRTIO_F_ANY_LAYOUT)) flags |= QF_ANY_LAYOUT;
    if (hasFeature(f, VIRTIO_F_RING_PACKED)) flags |= QF_PACKED;
    return {
      vq,
      portId: this.portId,
      queue,
      size,
      tx,
      flags,
      hdrSize: this.hdrSize,
      txMode: TXM_CODES[this.opts.txMode],
      doorbell: this.transport.doorbellAddr(),
      interrupt: this.transport.interruptAddr(vq),
    };
  }

  /**
   * Send a control command and check its ack (control path, main thread;
   * blocks until the device answers, at most trapTimeoutMs). A command that
   * times out declares the device dead, as a trap that times out does.
   * Throws TpdkError naming the command (ECTRL, ETIMEDOUT, EPROTO, ENODEV).
   */
  ctrlCommand(cls: number, cmd: number, data: ArrayLike<number> = []): void {
    const cq = this.ctrlq;
    if (cq === null || (this.state !== PORT_STARTED && !this.starting)) {
      const why = hasFeature(this.negotiated, VIRTIO_NET_F_CTRL_VQ) ? "the port is not started" : "CTRL_VQ is not negotiated";
      throw new TpdkError("ESTATE", `${this.name}: cannot send a control command: ${why}`);
    }
    if (!this.live.alive) throw new TpdkError("ENODEV", `${this.name}: device is not answering (${this.live.reason})`);
    try {
      cq.send(this.transport, cls, cmd, data, this.opts.trapTimeoutMs);
    } catch (e) {
      if (e instanceof TpdkError && e.code === "ETIMEDOUT") this.live.declare("a control command timed out");
      throw e;
    }
  }

  /**
   * start() failed after the RX rings were filled: reset the device (best
   * effort) and take every mbuf back, so a failed start leaks nothing. The
   * next start() re-runs the bring-up.
   */
  private abortStart(): void {
    try {
      if (this.live.alive) {
        // The reset stops the device touching the buffers freed below; FAILED again says the driver gave up.
        resetDevice(this.transport, RESET_TIMEOUT_MS);
        setFailed(this.transport);
      }
    } catch {
      // The device is failing anyway; what matters is the error being thrown.
    }
    this.deviceIsReset = true;
    for (let q = 0; q < this.nbRx; q++) releaseQueue(this.mem, this.mbufs, this.rxq[q]!.zone);
    for (let q = 0; q < this.nbTx; q++) releaseQueue(this.mem, this.mbufs, this.txq[q]!.zone);
  }

  /** Why configure() allows no more queues than it does (messages). */
  private pairsLimit(): string {
    if (!hasFeature(this.offered, VIRTIO_NET_F_MQ)) return "the device does not offer MQ (one queue pair)";
    if (!hasFeature(this.negotiated, VIRTIO_NET_F_MQ)) return "MQ is not negotiated (mq=0, or the device lacks CTRL_VQ)";
    if (this.devicePairs > PMD_MAX_QUEUES) return `the driver handles ${PMD_MAX_QUEUES} queues per direction (the device has ${this.devicePairs} pairs)`;
    return `the device's max_virtqueue_pairs is ${this.devicePairs}`;
  }

  /** Create (first start) and program the control queue; before DRIVER_OK. */
  private programCtrl(): void {
    const vq = ctrlQueueIndex(this.devicePairs, hasFeature(this.negotiated, VIRTIO_NET_F_MQ));
    if (this.ctrlq === null || this.ctrlq.vq !== vq) {
      const max = queueMaxSize(this.transport, vq);
      if (max === 0) throw new TpdkError("EQUEUE", `${this.name}: device has no control virtqueue ${vq}`);
      let size = 1;
      while (size * 2 <= max && size < CTRL_QUEUE_SIZE) size *= 2;
      if (size < 4) throw new TpdkError("EQUEUE", `${this.name}: control virtqueue ${vq} holds ${max} descriptors; a command needs 3`);
      this.ctrlq = new ControlQueue(this.mem, this.portId, vq, size);
    }
    this.ctrlq.program(this.transport, hasFeature(this.negotiated, VIRTIO_F_EVENT_IDX));
  }

  /**
   * Configure virtqueue `vq` as an empty queue nobody drives: the other half
   * of a pair the app set up on one side only (start()). A device may steer
   * frames to such a receive queue and drop them for want of buffers (DPDK
   * behaves the same): configure as many RX queues as pairs to avoid it.
   */
  private programIdle(vq: number): void {
    const max = queueMaxSize(this.transport, vq);
    if (max === 0) throw new TpdkError("EQUEUE", `${this.name}: device has no virtqueue ${vq}`);
    let size = 1;
    while (size * 2 <= max && size < IDLE_QUEUE_SIZE) size *= 2;
    programIdleQueue(this.mem, this.transport, this.portId, vq, size, hasFeature(this.negotiated, VIRTIO_F_EVENT_IDX));
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
  private configChangeWords(pairs: number): number[] {
    if (this.ctrlq !== null && hasFeature(this.negotiated, VIRTIO_NET_F_CTRL_VQ)) return [this.transport.interruptAddr(this.ctrlq.vq)];
    const out: number[] = [];
    for (let p = 0; p < pairs; p++) out.push(this.transport.interruptAddr(txQueueIndex(p)));
    return out;
  }

  /** Reset the ring, tell the device where it is (traps), post RX buffers. */
  private programQueue(slot: QueueSlot, vq: number, tx: boolean): void {
    const u32 = this.mem.u32;
    const w = slot.zone >>> 2;
    resetRing(this.mem, slot.zone, tx);
    const notifyOff = setupQueue(this.transport, vq, slot.size, u32[w + (Q_DESC >>> 2)]!, u32[w + (Q_AVAIL >>> 2)]!, u32[w + (Q_USED >>> 2)]!);
    slot.notifyOff = notifyOff;
    u32[w + (Q_NOTIFY >>> 2)] = this.transport.notifyAddr(notifyOff);
    if (!tx) fillRx(this.mem, this.mbufs, slot.zone, slot.pool!);
  }

  private requireState(op: string, ...ok: number[]): void {
    if (!ok.includes(this.state)) {
      const names = ["closed", "probed", "configured", "started", "stopped"];
      throw new TpdkError("ESTATE", `${this.name}: ${op}() not allowed while the port is ${names[this.state]}`);
    }
  }

  /** VIRTIO_F_RING_PACKED negotiated: every data queue is a packed ring (PackedRxQueue / PackedTxQueue). */
  get packed(): boolean {
    return hasFeature(this.negotiated, VIRTIO_F_RING_PACKED);
  }

  /**
   * Queue size for `vq`: requested (or queue_size=), capped at the device's maximum. Split
   * rings: a power of two (§2.7). Packed rings: any size (§2.8.10.1), capped at the maximum itself.
   */
  private queueSize(vq: number, nbDesc: number | undefined): number {
    const want = nbDesc ?? this.opts.queueSize;
    if (this.packed) {
      if (!Number.isInteger(want) || want < 8 || want > 32768) throw new TpdkError("EINVAL", `${this.name}: ${want} descriptors is not in 8..32768`);
      const max = this.step("queue setup", () => queueMaxSize(this.transport, vq));
      if (max === 0) throw new TpdkError("EQUEUE", `${this.name}: device has no virtqueue ${vq}`);
      return Math.min(want, max);
    }
    if (!Number.isInteger(want) || want < 8 || want > 32768 || (want & (want - 1)) !== 0) {
      throw new TpdkError("EINVAL", `${this.name}: ${want} descriptors is not a power of two in 8..32768`);
    }
    const max = this.step("queue setup", () => queueMaxSize(this.transport, vq));
    if (max === 0) throw new TpdkError("EQUEUE", `${this.name}: device has no virtqueue ${vq}`);
    let cap = 1;
    while (cap * 2 <= max && cap < 32768) cap *= 2;
    return Math.min(want, cap);
  }
}

/** The port table zone (reserved by the first probe in this memory). */
export function portTable(mem: Memory): number {
  const z = mem.lookup(PORT_TABLE_ZONE);
  if (z) return z.offset;
  try {
    return mem.reserve(PORT_TABLE_ZONE, PMD_MAX_PORTS * PORT_ENTRY, 64).offset;
  } catch (e) {
    if (e instanceof TpdkError && e.code === "EEXIST") return mem.zone(PORT_TABLE_ZONE).offset;
    throw e;
  }
}

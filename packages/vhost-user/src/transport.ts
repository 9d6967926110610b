import { type Memory, TpdkError } from "@tpdk/eal";
import type { NativeBinding } from "@tpdk/native";
import {
  CC_NO_REGISTER, CC_QUEUE_DESC_HI, CC_QUEUE_DEVICE_HI, CC_QUEUE_DRIVER_HI, CC_QUEUE_ENABLE, CC_QUEUE_SIZE,
  type CommonCfgDevice, FeatureRegs, ISR_CONFIG, NET_CFG_MAC, NET_CFG_MAX_VIRTQUEUE_PAIRS, NET_CFG_STATUS, NO_FEATURES,
  QueueRegs, SPACE_COMMON_CFG, SPACE_DEVICE_CFG, SPACE_ISR, STATUS_DRIVER_OK, STATUS_FEATURES_OK, USED_IDX,
  VIRTIO_F_RING_PACKED, VIRTIO_MSI_NO_VECTOR, VIRTIO_NET_S_LINK_UP, commonCfgAccessOk, isSubset, readCommonCfg,
  storeQueueRegister, writeCommonCfg,
} from "@tpdk/virtio";
import type { VirtioTransport } from "@tpdk/virtio-pmd";
import { acceptWithin, connectClient, listenServer, removeSocket } from "./connection.js";
import { CtrlResponder } from "./ctrl-responder.js";
import { deviceFeatures, backendFeatureMask } from "./features.js";
import { type BackendInfo, VhostUserFrontend } from "./frontend.js";
import { KickForwarder } from "./kick-forwarder.js";
import type { VirtioUserOptions } from "./options.js";

/**
 * Where our memory appears in the back-end's "front-end virtual address"
 * space: any base works as long as SET_VRING_ADDR uses the same one
 * (vhost-user-facts §2); a non-zero base keeps address 0 meaning "none".
 */
export const USERSPACE_BASE = 0x1000_0000_0000;

/** Words this transport keeps in EAL memory: the data path kicks and waits by address, as with the built-in device. */
const NOTIFY_WORDS = 0;
const INTERRUPT_WORDS = 64 * 4;
const DOORBELL_WORD = 128 * 4;
/**
 * Per data queue, two i32 words the lcore kicks with (kickFdAddr; virtio-pmd QueueBase.kick):
 * the kick eventfd (-1 while the rings are down) and how many threads are writing it now.
 */
const KICK_FD_WORDS = 130 * 4;
const MAX_QUEUES = 64;
const ZONE_BYTES = KICK_FD_WORDS + MAX_QUEUES * 8;
/** close(): longest wait for an lcore inside its eventfd write (one system call) before the fds close. */
const KICK_WRITERS_WAIT_MS = 1000;
/** SET_VRING_BASE of a packed ring that starts over: avail and used at descriptor 0, wrap counters 1. */
const PACKED_START_BASE = 0x8000_8000;

type Link =
  | { state: "connected"; frontend: VhostUserFrontend; backend: BackendInfo }
  | { state: "waiting"; why: string }
  | { state: "closed" };

/** Told when the link goes down or comes back (server=1): l2fwd prints one line. */
export type LinkListener = (up: boolean, why: string) => void;

/**
 * net_virtio_user's transport: the register file the driver already speaks
 * (virtio 1.2 §4.1.4.3 common configuration, §5.1.4 net configuration),
 * emulated here, with status transitions turned into vhost-user messages as
 * DPDK's virtio_user_dev does. The common configuration is @tpdk/virtio's
 * contract (common-cfg.ts: register map, widths, FeatureRegs, QueueRegs),
 * the same the built-in device answers; the policy is this file's
 * (FEATURES_OK refused for bits not offered, queue registers fixed once the
 * rings run, a queue enabled only with its rings inside EAL memory):
 *
 *   FEATURES_OK  -> SET_FEATURES
 *   DRIVER_OK    -> SET_MEM_TABLE (our EAL memfd as one region: guest
 *                   address = bus address), then per ring NUM, BASE, ADDR,
 *                   KICK, CALL, and ENABLE for pair 0
 *   status 0     -> per ring ENABLE 0 and GET_VRING_BASE (the back-end stops)
 *   control queue kicks -> answered here (CtrlResponder); VQ_PAIRS_SET
 *                   enables/disables ring pairs
 *
 * The data path is untouched: rings, notify and interrupt words live in EAL
 * memory. Data-path kicks are written to the kick eventfds by the lcore
 * itself (kickFdAddr: the fd words; virtio-pmd QueueBase.kick with the
 * addon's eventfdKick), as DPDK's virtio-user does. They are not rare: with
 * EVENT_IDX a polling DPDK vhost never moves avail_event, so the driver kicks
 * once every 2^16 entries per ring (~430/s at 14 Mpps; see kick-forwarder.ts).
 * A thread without the addon kicks through the doorbell instead, and the main
 * thread forwards those (KickForwarder). Call eventfds are watched on the
 * event loop and turned into interrupt-word wakes.
 */
export class VhostUserTransport implements VirtioTransport, CommonCfgDevice {
  readonly name: string;
  private readonly mem: Memory;
  private readonly native: NativeBinding;
  private readonly memFd: number;
  private readonly opts: VirtioUserOptions;
  private readonly zone: number;
  private link: Link;
  private listenFd = -1;
  private acceptWatch: { stop(): void } | null = null;
  private connWatch: { stop(): void } | null = null;
  private readonly kicks: KickForwarder;
  private readonly listeners: LinkListener[] = [];
  private beats = 0;
  private ringReset: (() => void) | null = null;

  // Register file state (the map is @tpdk/virtio's CommonCfgDevice contract).
  /** device_feature (what the back-end and this front-end provide: features.ts) and driver_feature, with their selects. */
  readonly features: FeatureRegs;
  #status = 0;
  #queueSelect = 0;
  #configMsix = VIRTIO_MSI_NO_VECTOR;
  private readonly queues: QueueRegs[] = [];
  private configGeneration = 0;
  private isr = 0;
  private readonly mac = new Uint8Array(6);
  private readonly pairs: number;
  private readonly ctrlIndex: number;
  private activePairs = 1;
  private ringsUp = false;
  private readonly kickFds: number[] = [];
  private readonly callFds: number[] = [];
  private readonly callWatches: ({ stop(): void } | null)[] = [];
  private readonly lastNotify: number[] = [];
  private readonly ctrl: CtrlResponder;

  private constructor(mem: Memory, native: NativeBinding, memFd: number, name: string, opts: VirtioUserOptions, link: Link) {
    this.mem = mem;
    this.native = native;
    this.memFd = memFd;
    this.name = name;
    this.opts = opts;
    this.link = link;
    const zoneName = `vuser.${name}`;
    this.zone = (mem.lookup(zoneName) ?? mem.reserve(zoneName, ZONE_BYTES, 64)).offset;
    const backendPairs = link.state === "connected" ? link.backend.queuePairs : opts.queues;
    this.pairs = Math.max(1, Math.min(opts.queues, backendPairs, (MAX_QUEUES - 1) >>> 1));
    this.ctrlIndex = 2 * this.pairs;
    for (let q = 0; q <= this.ctrlIndex; q++) this.queues.push(new QueueRegs(q, opts.queueSize));
    if (opts.mac) this.mac.set(opts.mac);
    this.ctrl = new CtrlResponder(mem, {
      setQueuePairs: (n) => this.setQueuePairs(n),
      setMac: (m) => this.mac.set(m),
    });
    this.features = new FeatureRegs(link.state === "connected" ? deviceFeatures(link.backend, this.pairs) : NO_FEATURES);
    this.kicks = new KickForwarder(mem.i32, (this.zone + DOORBELL_WORD) >>> 2, () => this.forwardKicks());
    // No kick fd until the rings run (fd 0 would be stdin).
    for (let i = 0; i < MAX_QUEUES; i++) Atomics.store(mem.i32, this.kickFdWord(i), -1);
  }

  /**
   * Connect (client) or listen and accept (server=1), then the handshake.
   * `memFd` is the EAL memory's memfd: the one region the back-end maps.
   */
  static open(mem: Memory, native: NativeBinding, memFd: number, name: string, opts: VirtioUserOptions): VhostUserTransport {
    let listenFd = -1;
    let fd: number;
    if (opts.server) {
      listenFd = listenServer(native, opts.path, name);
      try {
        fd = acceptWithin(native, listenFd, opts.connectTimeoutMs, name, opts.path);
      } catch (e) {
        native.close(listenFd);
        removeSocket(opts.path);
        throw e;
      }
    } else {
      fd = connectClient(native, opts.path, name);
    }
    const frontend = new VhostUserFrontend(native, fd, name, opts.replyTimeoutMs);
    let backend: BackendInfo;
    try {
      backend = frontend.handshake();
    } catch (e) {
      frontend.close();
      if (listenFd >= 0) {
        native.close(listenFd);
        removeSocket(opts.path);
      }
      throw withStep(e, "handshake");
    }
    const t = new VhostUserTransport(mem, native, memFd, name, opts, { state: "connected", frontend, backend });
    t.listenFd = listenFd;
    t.watchConnection();
    return t;
  }

  /** VirtioTransport.onRingsLost: the port's ring reset, run before a packed ring is handed to a new back-end. */
  onRingsLost(reset: () => void): void {
    this.ringReset = reset;
  }

  onLinkChange(l: LinkListener): void {
    this.listeners.push(l);
  }

  /** server=1: a lost back-end may come back (we keep listening). */
  get waitsForReconnect(): boolean {
    return this.opts.server;
  }

  get linkUp(): boolean {
    return this.link.state === "connected";
  }

  // ------------------------------------------------------------ VirtioTransport

  read(space: number, off: number, width: 1 | 2 | 4): number {
    if (space === SPACE_COMMON_CFG) {
      // An access that names no register at its width (§4.1.3.1) reads 0, as on the built-in device.
      const v = commonCfgAccessOk(off, width) ? readCommonCfg(this, off) : CC_NO_REGISTER;
      return v === CC_NO_REGISTER ? 0 : v;
    }
    if (space === SPACE_DEVICE_CFG) return this.readConfig(off, width);
    if (space === SPACE_ISR) {
      const v = this.isr;
      this.isr = 0;
      return v;
    }
    return 0;
  }

  write(space: number, off: number, width: 1 | 2 | 4, value: number): void {
    // §5.1.4.2: the driver must not write device configuration; like a conforming device we ignore it.
    if (space !== SPACE_COMMON_CFG || !commonCfgAccessOk(off, width)) return;
    // The value cut to the register's width, as the built-in device's trap does.
    writeCommonCfg(this, off, width === 4 ? value >>> 0 : value & (width === 2 ? 0xffff : 0xff));
  }

  kick(queueNotifyOff: number): void {
    if (queueNotifyOff === this.ctrlIndex) {
      if (this.ctrl.process() > 0) this.isr |= 1;
      return;
    }
    const fd = this.kickFds[queueNotifyOff];
    if (fd !== undefined && this.ringsUp) this.native.eventfdWrite(fd, 1);
  }

  notifyAddr(queueNotifyOff: number): number {
    return this.zone + NOTIFY_WORDS + 4 * queueNotifyOff;
  }
  interruptAddr(queue: number): number {
    return this.zone + INTERRUPT_WORDS + 4 * queue;
  }
  doorbellAddr(): number {
    return this.zone + DOORBELL_WORD;
  }
  /** The data queue's [kick eventfd, writers] words (virtio-pmd VirtioTransport.kickFdAddr); 0 for the control queue (kicked here). */
  kickFdAddr(queueNotifyOff: number): number {
    return queueNotifyOff >= 0 && queueNotifyOff < this.ctrlIndex ? this.zone + KICK_FD_WORDS + 8 * queueNotifyOff : 0;
  }
  /** Moves while the back-end is connected (or, with server=1, while we wait for it): the port's liveness check. */
  heartbeat(): number {
    if (this.link.state === "connected" || (this.link.state === "waiting" && this.opts.server)) this.beats = (this.beats + 1) >>> 0;
    return this.beats;
  }
  maxQueues(): number {
    return this.ctrlIndex + 1;
  }

  /** Close the connection, the eventfds and (server) the socket file. Idempotent. */
  close(): void {
    this.stopRings(false);
    this.waitKickWriters();
    this.dropConnection({ state: "closed" });
    this.acceptWatch?.stop();
    this.acceptWatch = null;
    if (this.listenFd >= 0) {
      safeClose(this.native, this.listenFd);
      this.listenFd = -1;
      removeSocket(this.opts.path);
    }
    for (const fd of [...this.kickFds, ...this.callFds]) if (fd !== undefined) safeClose(this.native, fd);
    this.kickFds.length = 0;
    this.callFds.length = 0;
  }

  // ------------------------------------------------------------ registers (CommonCfgDevice)

  get status(): number {
    return this.#status;
  }
  get queueSelect(): number {
    return this.#queueSelect;
  }
  get configMsix(): number {
    return this.#configMsix;
  }
  get generation(): number {
    return this.configGeneration & 0xff;
  }
  /** num_queues: every data queue plus the control queue (§5.1.2). */
  get numQueues(): number {
    return this.ctrlIndex + 1;
  }
  selectedQueue(): QueueRegs | undefined {
    return this.queues[this.#queueSelect];
  }
  writeDriverFeature(v: number): void {
    this.features.writeDriver(v);
  }
  setConfigMsix(v: number): void {
    this.#configMsix = v;
  }
  selectQueue(v: number): void {
    this.#queueSelect = v;
  }
  writeQueue(q: QueueRegs, off: number, v: number): boolean {
    if (this.ringsUp) return true; // queue registers are fixed once the rings run: ignored
    switch (off) {
      case CC_QUEUE_SIZE:
        if (v >= 1 && v <= this.opts.queueSize) q.size = v;
        return true;
      case CC_QUEUE_ENABLE:
        q.enabled = v === 1 && q.descHi === 0 && q.driverHi === 0 && q.deviceHi === 0 && this.mem.contains(q.descLo, 16);
        return true;
      case CC_QUEUE_DESC_HI:
      case CC_QUEUE_DRIVER_HI:
      case CC_QUEUE_DEVICE_HI:
        // EAL memory is below 4 GiB: bus addresses have no high half.
        if (v !== 0) q.enabled = false;
        return storeQueueRegister(q, off, v);
    }
    return storeQueueRegister(q, off, v);
  }

  private readConfig(off: number, width: number): number {
    if (off >= NET_CFG_MAC && off < NET_CFG_MAC + 6 && width === 1) return this.mac[off - NET_CFG_MAC]!;
    if (off === NET_CFG_STATUS) return this.link.state === "connected" ? VIRTIO_NET_S_LINK_UP : 0;
    if (off === NET_CFG_MAX_VIRTQUEUE_PAIRS) return this.pairs;
    return 0;
  }

  writeStatus(v: number): void {
    if (v === 0) {
      this.stopRings(true);
      this.ctrl.forget();
      this.#status = 0;
      this.features.reset();
      this.activePairs = 1;
      for (let q = 0; q < this.queues.length; q++) this.queues[q] = new QueueRegs(q, this.opts.queueSize);
      return;
    }
    const added = v & ~this.#status;
    if (added & STATUS_FEATURES_OK) {
      if (!this.features.driverSubsetOfOffered()) {
        this.#status = v & ~STATUS_FEATURES_OK; // §3.1.1: the driver re-reads and sees it refused
        return;
      }
      const link = this.connected("SET_FEATURES");
      try {
        link.frontend.setFeatures(backendFeatureMask(this.features.driver(), link.backend));
      } catch (e) {
        this.lose((e as Error).message);
        throw e;
      }
    }
    this.#status = v;
    if (added & STATUS_DRIVER_OK) this.startRings();
  }

  private connected(step: string): { frontend: VhostUserFrontend; backend: BackendInfo } {
    if (this.link.state !== "connected") {
      throw new TpdkError("ENOTCONN", `${this.name}: no vhost-user back-end is connected (${step}): ${this.link.state === "waiting" ? this.link.why : "port closed"}`);
    }
    return this.link;
  }

  // ------------------------------------------------------------ rings

  /** DRIVER_OK (or a back-end that came back): memory table, every programmed ring, enable the active pairs. */
  /** RING_PACKED negotiated: the rings are packed; they restart from their beginning (the driver resets them at start). */
  private packed(): boolean {
    return this.features.has(VIRTIO_F_RING_PACKED);
  }

  private startRings(): void {
    const { frontend } = this.connected("DRIVER_OK");
    try {
      frontend.setMemTable(
        [{ guestPhysAddr: 0, memorySize: this.mem.size, userspaceAddr: USERSPACE_BASE, mmapOffset: 0 }],
        [this.memFd],
      );
      for (let i = 0; i < this.ctrlIndex; i++) {
        const q = this.queues[i]!;
        if (!q.enabled) continue;
        this.kickFds[i] ??= this.native.eventfd(0, { nonblock: true });
        this.callFds[i] ??= this.native.eventfd(0, { nonblock: true });
        this.lastNotify[i] = Atomics.load(this.mem.i32, (this.zone + NOTIFY_WORDS + 4 * i) >>> 2);
        frontend.setupRing({
          index: i,
          num: q.size,
          // A ring that already ran resumes where the back-end left it: at what it has used. A packed ring
          // (§2.8) starts at descriptor 0 with the wrap counter 1, avail and used: bits 0-15 and 16-31 of
          // the base are each index | wrap << 15 (vhost-user spec; DPDK's virtio_user sends the low half).
          base: this.packed() ? PACKED_START_BASE : Atomics.load(this.mem.u16, (q.deviceLo + USED_IDX) >>> 1),
          desc: USERSPACE_BASE + q.descLo,
          avail: USERSPACE_BASE + q.driverLo,
          used: USERSPACE_BASE + q.deviceLo,
          kickFd: this.kickFds[i]!,
          callFd: this.callFds[i]!,
        });
        this.watchCall(i);
        // The lcore kicks this ring by writing the eventfd itself from now on (QueueBase.kick's Atomics.load).
        Atomics.store(this.mem.i32, this.kickFdWord(i), this.kickFds[i]!);
      }
      for (let i = 0; i < this.ctrlIndex; i++) if (this.queues[i]!.enabled) frontend.enableRing(i, i < 2 * this.activePairs);
    } catch (e) {
      this.lose((e as Error).message);
      throw withStep(e, "DRIVER_OK (ring setup)");
    }
    const cq = this.queues[this.ctrlIndex]!;
    if (cq.enabled) this.ctrl.attach(cq.descLo, cq.driverLo, cq.deviceLo, cq.size, this.packed());
    this.ringsUp = true;
    this.kicks.start();
  }

  /** Reset: the back-end stops every ring and says where it stopped (GET_VRING_BASE). */
  private stopRings(tellBackend: boolean): void {
    if (!this.ringsUp) return;
    this.ringsUp = false;
    // No lcore writes a kick eventfd of a stopped ring (QueueBase.kick loads -1), as transport.kick() skips it.
    for (let i = 0; i < MAX_QUEUES; i++) Atomics.store(this.mem.i32, this.kickFdWord(i), -1);
    this.kicks.stop();
    this.ctrl.detach();
    for (let i = 0; i < this.callWatches.length; i++) {
      this.callWatches[i]?.stop();
      this.callWatches[i] = null;
    }
    if (!tellBackend || this.link.state !== "connected") return;
    const { frontend } = this.link;
    try {
      for (let i = 0; i < this.ctrlIndex; i++) {
        if (!this.queues[i]!.enabled) continue;
        frontend.enableRing(i, false);
        frontend.getRingBase(i);
      }
    } catch (e) {
      // A back-end that fails while we stop it is gone: the reset still completes on our side.
      this.lose(`stopping the rings: ${(e as Error).message}`);
    }
  }

  private setQueuePairs(n: number): boolean {
    if (n < 1 || n > this.pairs) return false;
    // §5.1.6.5.5: only pairs the driver configured can be enabled.
    for (let p = 0; p < n; p++) if (!this.queues[2 * p]!.enabled || !this.queues[2 * p + 1]!.enabled) return false;
    this.activePairs = n;
    if (this.ringsUp && this.link.state === "connected") {
      const { frontend } = this.link;
      try {
        for (let i = 0; i < this.ctrlIndex; i++) if (this.queues[i]!.enabled) frontend.enableRing(i, i < 2 * n);
      } catch (e) {
        this.lose((e as Error).message);
        return false;
      }
    }
    return true;
  }

  /** i32 index of queue i's kick-fd word; the writers count is the next word. */
  private kickFdWord(i: number): number {
    return (this.zone + KICK_FD_WORDS + 8 * i) >>> 2;
  }

  /**
   * Before the kick eventfds close: every fd word says -1 (set here too: a ring setup that
   * failed half-way leaves some set without the rings running), so an lcore that comes later
   * writes nothing; wait for those inside a write now (the count QueueBase.kick holds around
   * it: its Atomics.add comes before its load of the fd word, so either it saw -1 or we see
   * its count). Bounded: a thread that died inside the window never lowers its count, and it
   * will not write again either.
   */
  private waitKickWriters(): void {
    const i32 = this.mem.i32;
    for (let i = 0; i < MAX_QUEUES; i++) Atomics.store(i32, this.kickFdWord(i), -1);
    const deadline = performance.now() + KICK_WRITERS_WAIT_MS;
    for (let i = 0; i < MAX_QUEUES; i++) {
      const w = this.kickFdWord(i) + 1;
      while (Atomics.load(i32, w) > 0 && performance.now() < deadline) {
        // one system call on the lcore: spin
      }
    }
  }

  /**
   * Data-path kicks that came through the doorbell (a thread without the addon's eventfdKick:
   * notify words moved) become kick-eventfd writes. Main thread, when the doorbell moves (KickForwarder).
   */
  private forwardKicks(): void {
    const i32 = this.mem.i32;
    for (let i = 0; i < this.ctrlIndex; i++) {
      const fd = this.kickFds[i];
      if (fd === undefined) continue;
      // Pairs with the lcore's Atomics.add on the notify word in its kick path.
      const w = Atomics.load(i32, (this.zone + NOTIFY_WORDS + 4 * i) >>> 2);
      if (w !== this.lastNotify[i]) {
        this.lastNotify[i] = w;
        this.native.eventfdWrite(fd, 1);
      }
    }
  }

  /** The back-end's used-buffer notification wakes a driver waiting on the queue's interrupt word. */
  private watchCall(i: number): void {
    this.callWatches[i]?.stop();
    const fd = this.callFds[i]!;
    const word = (this.zone + INTERRUPT_WORDS + 4 * i) >>> 2;
    this.callWatches[i] = this.native.watch(fd, this.native.POLLIN, () => {
      if (this.native.eventfdRead(fd) === 0) return;
      this.isr |= 1;
      Atomics.add(this.mem.i32, word, 1);
      Atomics.notify(this.mem.i32, word);
    });
  }

  // ------------------------------------------------------------ connection

  /** Readable outside a request means the back-end hung up (or broke the protocol: it never speaks first). */
  private watchConnection(): void {
    if (this.link.state !== "connected") return;
    const { frontend } = this.link;
    const probe = new Uint8Array(64);
    this.connWatch = this.native.watch(frontend.channel.fd, this.native.POLLIN, () => {
      let r: { bytes: number; fds: number[] };
      try {
        r = this.native.recvMsg(frontend.channel.fd, probe, 8);
      } catch (e) {
        this.lose(`connection error: ${(e as Error).message}`);
        return;
      }
      for (const fd of r.fds) safeClose(this.native, fd);
      if (r.bytes === 0) this.lose("the back-end closed the connection");
      else if (r.bytes > 0) this.lose("the back-end sent a message nobody asked for");
    });
  }

  private lose(why: string): void {
    if (this.link.state !== "connected") return;
    this.stopRings(false); // the back-end is gone: nothing to tell it; the kick forwarder and our watches stop
    this.dropConnection({ state: "waiting", why });
    this.configGeneration++;
    this.isr |= ISR_CONFIG;
    for (const l of this.listeners) l(false, why);
    if (this.opts.server && this.listenFd >= 0) this.waitForBackend();
  }

  private dropConnection(next: Link): void {
    this.connWatch?.stop();
    this.connWatch = null;
    if (this.link.state === "connected") this.link.frontend.close();
    this.link = next;
  }

  /** server=1: accept the next back-end, redo the handshake, resume the rings where they stopped. */
  private waitForBackend(): void {
    this.acceptWatch?.stop();
    this.acceptWatch = this.native.watch(this.listenFd, this.native.POLLIN, () => {
      const fd = this.native.unixAccept(this.listenFd);
      if (fd < 0) return;
      this.acceptWatch?.stop();
      this.acceptWatch = null;
      const frontend = new VhostUserFrontend(this.native, fd, this.name, this.opts.replyTimeoutMs);
      try {
        const backend = frontend.handshake();
        if (!isSubset(this.features.driver(), deviceFeatures(backend, this.pairs))) {
          throw new TpdkError("EFEATURES", `${this.name}: the new back-end lacks features the driver negotiated`);
        }
        const resetRings = this.packed() && (this.#status & STATUS_DRIVER_OK) !== 0;
        if (resetRings && this.ringReset === null) {
          throw new TpdkError("ENOTSUP", `${this.name}: packed rings (packed_vq=1) do not resume on a new back-end without a port to reset them; stop and start the port`);
        }
        this.link = { state: "connected", frontend, backend };
        if (this.#status & STATUS_FEATURES_OK) frontend.setFeatures(backendFeatureMask(this.features.driver(), backend));
        // A packed ring (§2.8) keeps no index in shared memory: where the old back-end stopped is known
        // only to the lcores' queue objects, mid-flight. Its rings start over instead (DPDK's virtio_user
        // resets its packed queues on reconnect too): the port takes every mbuf back and posts RX again,
        // and startRings gives the new back-end base 0x80008000 (positions 0, wrap counters 1).
        if (resetRings) this.ringReset!();
        if (this.#status & STATUS_DRIVER_OK) this.startRings();
      } catch (e) {
        frontend.close();
        this.link = { state: "waiting", why: (e as Error).message };
        for (const l of this.listeners) l(false, `reconnect failed: ${(e as Error).message}`);
        this.waitForBackend();
        return;
      }
      this.configGeneration++;
      this.isr |= ISR_CONFIG;
      this.watchConnection();
      for (const l of this.listeners) l(true, "back-end reconnected");
    });
  }
}

function safeClose(native: NativeBinding, fd: number): void {
  try {
    native.close(fd);
  } catch {
    // already closed
  }
}

function withStep(e: unknown, step: string): TpdkError {
  const code = (e as { code?: string }).code ?? "EIO";
  const msg = (e as Error).message ?? String(e);
  return new TpdkError(code, msg.includes(`(${step})`) ? msg : `${msg} (vhost-user ${step})`, { cause: e });
}

// Over 400 lines on purpose: a device for the driver's unit tests with every hostile behaviour a test can
// switch on. Its registers are @tpdk/virtio's contract (common-cfg.ts: the register map, widths and the
// feature registers), the same the real device answers; only its policy (permissive, hostile) is its own.
import type { Memory } from "@tpdk/eal";
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  type CommonCfgDevice,
  QueueRegs,
  FeatureRegs,
  CC_QUEUE_ENABLE,
  DESC_SIZE,
  type Features,
  HDR_DEVICE_ID,
  HDR_DOORBELL_ADDR,
  HDR_MAGIC,
  HDR_MAX_QUEUES,
  HDR_NOTIFY_OFF_MULTIPLIER,
  HDR_VERSION,
  INTERRUPT_WORDS,
  NET_CFG_MAC,
  NET_CFG_MAX_VIRTQUEUE_PAIRS,
  NET_CFG_MTU,
  NET_CFG_SIZE,
  NET_CFG_STATUS,
  NET_HDR_NUM_BUFFERS,
  NOTIFY_AREA,
  NOTIFY_OFF_MULTIPLIER,
  SPACE_COMMON_CFG,
  SPACE_DEVICE_CFG,
  SPACE_ISR,
  STATUS_FEATURES_OK,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  ISR_CONFIG,
  TRANSPORT_MAGIC,
  TRANSPORT_MAX_QUEUES,
  TRANSPORT_REGION_BYTES,
  TRANSPORT_VERSION,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  VIRTIO_ID_NET,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_F_IN_ORDER,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_OK,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VIRTIO_NET_S_LINK_UP,
  commonCfgAccessOk,
  ctrlQueueIndex,
  readCommonCfg,
  storeQueueRegister,
  writeCommonCfg,
  VIRTIO_MSI_NO_VECTOR,
} from "@tpdk/virtio";
import type { TrapHandler } from "@tpdk/virtio-pmd";

/**
 * A virtio-net device for unit tests, living in the test's own thread: it
 * answers register traps synchronously (through InProcessTransport) and the
 * test services the rings by hand with the helpers below. It does only what
 * the test asks, so tests can also make it misbehave.
 */
export interface FakeDeviceOptions {
  offered: Features;
  mac?: ArrayLike<number>;
  linkUp?: boolean;
  maxPairs?: number;
  mtu?: number;
  maxQueueSize?: number;
  /** Refuse FEATURES_OK (clear it on the status write). */
  refuseFeaturesOk?: boolean;
  /** Bump config_generation on this many device-config reads, then stop (tests the driver's retry). */
  tornConfigReads?: number;
  /** Never report status 0 after a reset. */
  stuckReset?: boolean;
  /**
   * Control queue (offer CTRL_VQ): how a kicked command is answered. Default:
   * VIRTIO_NET_OK for MQ VQ_PAIRS_SET with 1..maxPairs (MQ negotiated) and
   * MAC ADDR_SET with 6 bytes (CTRL_MAC_ADDR negotiated: the config mac
   * becomes that address, as QEMU does), VIRTIO_NET_ERR for anything else. "silent": never answered (the driver
   * times out); "unanswered": returned with used len 0.
   */
  ctrl?: ((cls: number, cmd: number, data: number[]) => number) | "silent" | "unanswered";
  name?: string;
}

/** A control command as the fake device received it. */
export interface CtrlCommand {
  cls: number;
  cmd: number;
  data: number[];
}

/** A queue's registers (@tpdk/virtio QueueRegs) and the fake's ring cursors. */
export class FakeQueue extends QueueRegs {
  /** Device's next avail index to read (free-running u16). */
  lastAvail = 0;
  /** Device's used index shadow (published by publishUsed). */
  usedShadow = 0;

  /** Ring addresses (bus addresses are offsets in EAL memory: the low halves). */
  get desc(): number {
    return this.descLo;
  }
  get avail(): number {
    return this.driverLo;
  }
  get used(): number {
    return this.deviceLo;
  }
}

export interface Seg {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

export interface Chain {
  head: number;
  /** Segments as the device sees them (indirect tables expanded). */
  segs: Seg[];
  /** Main-ring descriptors the chain occupies (1 for indirect). */
  ringDescs: number;
  indirect: boolean;
}

export class FakeNetDevice implements TrapHandler, CommonCfgDevice {
  readonly mem: Memory;
  readonly region: number;
  readonly doorbell: number;
  readonly opts: FakeDeviceOptions;
  /** device_feature / driver_feature and their selects (@tpdk/virtio FeatureRegs). */
  readonly features: FeatureRegs;
  status = 0;
  queueSelect = 0;
  generation = 0;
  configMsix = VIRTIO_MSI_NO_VECTOR;
  configReads = 0;
  resets = 0;
  readonly queues: FakeQueue[] = [];
  readonly config = new Uint8Array(NET_CFG_SIZE);
  /** Every trap as "r|w space off width [value]" (tests may inspect the order). */
  readonly log: string[] = [];
  /** Control commands received, in order. */
  readonly ctrlLog: CtrlCommand[] = [];
  /** Queue pairs the last accepted VQ_PAIRS_SET enabled (1 after reset). */
  pairs = 1;
  /**
   * Driver writes to the device configuration. The device refuses them (the
   * write is ignored): in virtio 1.x the net config is read-only to the
   * driver (§5.1.4.2), the MAC included.
   */
  configWrites = 0;
  /**
   * Common-config accesses whose width is not the register's (@tpdk/virtio
   * COMMON_CFG_WIDTHS, the contract the real device enforces too): answered 0 /
   * ignored, as the real device does; a correct driver makes none.
   */
  badWidths = 0;

  constructor(mem: Memory, opts: FakeDeviceOptions) {
    this.mem = mem;
    this.opts = opts;
    this.features = new FeatureRegs(opts.offered);
    const z = mem.reserve(`fakedev.${opts.name ?? "virtio"}.${Math.random().toString(36).slice(2, 8)}`, TRANSPORT_REGION_BYTES + 64, 64);
    this.region = z.offset;
    this.doorbell = z.offset + TRANSPORT_REGION_BYTES;
    const w = this.region >>> 2;
    mem.u32[w + (HDR_VERSION >>> 2)] = TRANSPORT_VERSION;
    mem.u32[w + (HDR_DEVICE_ID >>> 2)] = VIRTIO_ID_NET;
    mem.u32[w + (HDR_MAX_QUEUES >>> 2)] = TRANSPORT_MAX_QUEUES;
    mem.u32[w + (HDR_DOORBELL_ADDR >>> 2)] = this.doorbell;
    mem.u32[w + (HDR_NOTIFY_OFF_MULTIPLIER >>> 2)] = NOTIFY_OFF_MULTIPLIER;
    Atomics.store(mem.u32, w + (HDR_MAGIC >>> 2), TRANSPORT_MAGIC);
    if (opts.mac) this.config.set(Array.from(opts.mac), NET_CFG_MAC);
    const st = opts.linkUp === false ? 0 : VIRTIO_NET_S_LINK_UP;
    this.config[NET_CFG_STATUS] = st;
    this.config[NET_CFG_MAX_VIRTQUEUE_PAIRS] = opts.maxPairs ?? 1;
    const mtu = opts.mtu ?? 1500;
    this.config[NET_CFG_MTU] = mtu & 0xff;
    this.config[NET_CFG_MTU + 1] = mtu >>> 8;
    this.resetQueues();
  }

  private resetQueues(): void {
    this.ctrlNextDesc = 0;
    this.queues.length = 0;
    this.pairs = 1;
    const n = Math.max(4, 2 * (this.opts.maxPairs ?? 1) + 1);
    for (let i = 0; i < n; i++) {
      this.queues.push(new FakeQueue(i, this.opts.maxQueueSize ?? 4096));
    }
  }

  // ---- TrapHandler ----
  read(space: number, off: number, width: number): number {
    this.log.push(`r ${space} ${off} ${width}`);
    if (space === SPACE_COMMON_CFG) {
      if (!commonCfgAccessOk(off, width)) {
        this.badWidths++;
        return 0;
      }
      const v = readCommonCfg(this, off);
      return v < 0 ? 0 : v;
    }
    if (space === SPACE_DEVICE_CFG) {
      this.configReads++;
      if (this.opts.tornConfigReads && this.configReads <= this.opts.tornConfigReads) this.generation = (this.generation + 1) & 0xff;
      let v = 0;
      for (let i = 0; i < width; i++) v |= (this.config[off + i] ?? 0) << (8 * i);
      return v >>> 0;
    }
    if (space === SPACE_ISR) {
      const v = this.isr;
      this.isr = 0;
      return v;
    }
    return 0;
  }

  write(space: number, off: number, width: number, value: number): void {
    this.log.push(`w ${space} ${off} ${width} ${value}`);
    if (space === SPACE_COMMON_CFG) {
      if (!commonCfgAccessOk(off, width)) this.badWidths++;
      else writeCommonCfg(this, off, value);
    }
    else if (space === SPACE_DEVICE_CFG) this.configWrites++; // refused: read-only (§5.1.4.2)
  }

  /** What the driver wrote to driver_feature. */
  get driverFeatures(): Features {
    return this.features.driver();
  }

  // ---- CommonCfgDevice (@tpdk/virtio): the register map is the contract's; the policy below is the fake's ----
  get numQueues(): number {
    return this.queues.length;
  }
  selectedQueue(): FakeQueue | undefined {
    return this.queues[this.queueSelect];
  }
  writeDriverFeature(v: number): void {
    this.features.writeDriver(v);
  }
  setConfigMsix(v: number): void {
    this.configMsix = v;
  }
  selectQueue(v: number): void {
    this.queueSelect = v;
  }
  /** Every queue write is taken as written (a unit-test device checks nothing); enable restarts the cursors. */
  writeQueue(q: FakeQueue, off: number, v: number): boolean {
    if (off !== CC_QUEUE_ENABLE) return storeQueueRegister(q, off, v);
    q.enabled = v === 1;
    q.lastAvail = 0;
    q.usedShadow = 0;
    return true;
  }
  writeStatus(value: number): void {
    if (value === 0) {
      if (this.opts.stuckReset) {
        this.status = 1;
        return;
      }
      this.status = 0;
      this.resets++;
      this.features.reset();
      this.resetQueues();
      return;
    }
    if (value & STATUS_FEATURES_OK && !(this.status & STATUS_FEATURES_OK)) {
      if (this.opts.refuseFeaturesOk || !this.features.driverSubsetOfOffered()) value &= ~STATUS_FEATURES_OK;
    }
    this.status = value & 0xff;
  }

  /** The control queue's index under the features the driver wrote (§5.1.2). */
  ctrlVq(): number {
    return ctrlQueueIndex(this.opts.maxPairs ?? 1, this.features.has(VIRTIO_NET_F_MQ));
  }

  /** Control-path kicks (InProcessTransport.kick), with the device status when each came. */
  readonly kickLog: { queue: number; status: number }[] = [];

  /** TrapHandler: a control-path kick. The control queue is answered at once (unless `ctrl` says otherwise). */
  kicked(queue: number): void {
    this.kickLog.push({ queue, status: this.status });
    if (queue === this.ctrlVq() && this.opts.ctrl !== "silent") this.serviceCtrl();
  }

  /**
   * Control chains whose descriptors were not the next ones in ring order
   * while IN_ORDER is negotiated (§2.7.5: the driver uses descriptors in
   * table order, wrapping at its end). A spec device may rely on that.
   */
  ctrlOrderViolations = 0;
  private ctrlNextDesc = 0;

  /** Take every pending control command, answer it (see FakeDeviceOptions.ctrl), publish. */
  serviceCtrl(): void {
    const vq = this.ctrlVq();
    for (let h = this.popAvail(vq); h >= 0; h = this.popAvail(vq)) {
      const c = this.chain(vq, h);
      if (this.features.has(VIRTIO_F_IN_ORDER)) {
        const mask = this.queues[vq]!.size - 1;
        let d = h;
        let ok = h === (this.ctrlNextDesc & mask);
        for (let i = 0; i + 1 < c.segs.length; i++) {
          if (c.segs[i]!.next !== ((d + 1) & mask)) ok = false;
          d = c.segs[i]!.next;
        }
        if (!ok) this.ctrlOrderViolations++;
        this.ctrlNextDesc = (h + c.segs.length) & 0xffff;
      }
      const bytes: number[] = [];
      let ack = -1;
      for (const s of c.segs) {
        if (s.flags & VRING_DESC_F_WRITE) {
          if (ack < 0 && s.len > 0) ack = s.addr;
        } else for (let i = 0; i < s.len; i++) bytes.push(this.mem.u8[s.addr + i]!);
      }
      const cmd: CtrlCommand = { cls: bytes[0] ?? -1, cmd: bytes[1] ?? -1, data: bytes.slice(2) };
      this.ctrlLog.push(cmd);
      if (this.opts.ctrl === "unanswered" || ack < 0) {
        this.pushUsed(vq, h, 0);
        continue;
      }
      const answer = typeof this.opts.ctrl === "function" ? this.opts.ctrl(cmd.cls, cmd.cmd, cmd.data) : this.defaultCtrl(cmd);
      this.mem.u8[ack] = answer;
      this.pushUsed(vq, h, 1);
    }
    this.publishUsed(vq);
  }

  private defaultCtrl(c: CtrlCommand): number {
    if (c.cls === VIRTIO_NET_CTRL_MAC && c.cmd === VIRTIO_NET_CTRL_MAC_ADDR_SET) {
      if (!this.features.has(VIRTIO_NET_F_CTRL_MAC_ADDR) || c.data.length !== 6) return VIRTIO_NET_ERR;
      this.config.set(c.data, NET_CFG_MAC);
      return VIRTIO_NET_OK;
    }
    if (c.cls !== VIRTIO_NET_CTRL_MQ || c.cmd !== VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || c.data.length !== 2) return VIRTIO_NET_ERR;
    const n = c.data[0]! | (c.data[1]! << 8);
    if (!this.features.has(VIRTIO_NET_F_MQ) || n < 1 || n > (this.opts.maxPairs ?? 1)) return VIRTIO_NET_ERR;
    // §5.1.6.5.5: the driver MUST have configured every queue it enables; this device refuses otherwise.
    for (let q = 0; q < 2 * n; q++) if (!this.queues[q]!.enabled) return VIRTIO_NET_ERR;
    this.pairs = n;
    return VIRTIO_NET_OK;
  }

  // ---- ring helpers for tests ----
  availIdx(vq: number): number {
    const q = this.queues[vq]!;
    return Atomics.load(this.mem.u16, (q.avail + AVAIL_IDX) >>> 1);
  }
  availFlags(vq: number): number {
    return this.mem.u16[(this.queues[vq]!.avail + AVAIL_FLAGS) >>> 1]!;
  }
  usedEvent(vq: number): number {
    const q = this.queues[vq]!;
    return this.mem.u16[(q.avail + AVAIL_RING + 2 * q.size) >>> 1]!;
  }
  /** Avail entries the device has not taken yet. */
  pending(vq: number): number {
    const q = this.queues[vq]!;
    return (this.availIdx(vq) - q.lastAvail) & 0xffff;
  }
  kicks(vq: number): number {
    return Atomics.load(this.mem.i32, (this.region + NOTIFY_AREA + NOTIFY_OFF_MULTIPLIER * vq) >>> 2);
  }
  interruptWord(vq: number): number {
    return (this.region + INTERRUPT_WORDS + 4 * vq) >>> 2;
  }
  desc(vq: number, i: number, table = this.queues[vq]!.desc): Seg {
    const a = table + DESC_SIZE * i;
    const m = this.mem;
    return { addr: m.u32[a >>> 2]!, len: m.u32[(a + 8) >>> 2]!, flags: m.u16[(a + 12) >>> 1]!, next: m.u16[(a + 14) >>> 1]! };
  }
  /** Read the chain starting at `head`, following NEXT and expanding an indirect table. */
  chain(vq: number, head: number): Chain {
    const q = this.queues[vq]!;
    const segs: Seg[] = [];
    let d = this.desc(vq, head);
    let ringDescs = 1;
    if (d.flags & VRING_DESC_F_INDIRECT) {
      const n = d.len / DESC_SIZE;
      let i = 0;
      for (;;) {
        const s = this.desc(vq, i, d.addr);
        segs.push(s);
        if (!(s.flags & VRING_DESC_F_NEXT) || segs.length > n) break;
        i = s.next;
      }
      return { head, segs, ringDescs, indirect: true };
    }
    segs.push(d);
    while (d.flags & VRING_DESC_F_NEXT) {
      if (segs.length > q.size) throw new Error("descriptor loop");
      d = this.desc(vq, d.next);
      segs.push(d);
      ringDescs++;
    }
    return { head, segs, ringDescs, indirect: false };
  }
  /** Take the next available chain head (or -1). */
  popAvail(vq: number): number {
    const q = this.queues[vq]!;
    if (this.pending(vq) === 0) return -1;
    const head = this.mem.u16[(q.avail + AVAIL_RING + 2 * (q.lastAvail & (q.size - 1))) >>> 1]!;
    q.lastAvail = (q.lastAvail + 1) & 0xffff;
    return head;
  }
  /** Write a used element at the shadow index (not yet visible: publishUsed). */
  pushUsed(vq: number, id: number, len: number): void {
    const q = this.queues[vq]!;
    const e = q.used + USED_RING + 8 * (q.usedShadow & (q.size - 1));
    this.mem.u32[e >>> 2] = id >>> 0;
    this.mem.u32[(e + 4) >>> 2] = len >>> 0;
    q.usedShadow = (q.usedShadow + 1) & 0xffff;
  }
  /** Make pushed used elements visible (and optionally set used.idx to anything). */
  publishUsed(vq: number, idx?: number): void {
    const q = this.queues[vq]!;
    if (idx !== undefined) q.usedShadow = idx & 0xffff;
    Atomics.store(this.mem.u16, (q.used + USED_IDX) >>> 1, q.usedShadow);
  }
  usedIdx(vq: number): number {
    return Atomics.load(this.mem.u16, (this.queues[vq]!.used + USED_IDX) >>> 1);
  }
  setUsedFlags(vq: number, flags: number): void {
    this.mem.u16[(this.queues[vq]!.used + USED_FLAGS) >>> 1] = flags;
  }
  setAvailEvent(vq: number, v: number): void {
    const q = this.queues[vq]!;
    this.mem.u16[(q.used + USED_RING + 8 * q.size) >>> 1] = v & 0xffff;
  }
  /**
   * Enter DEVICE_NEEDS_RESET as a device does after an error it cannot
   * recover from (§2.1.2): set the bit and, with DRIVER_OK, send a
   * configuration change notification (ISR bit 1, every enabled queue's
   * interrupt word woken) unless `notify` is false.
   */
  setNeedsReset(notify = true): void {
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    if (!notify || !(this.status & STATUS_DRIVER_OK)) return;
    this.isr |= ISR_CONFIG;
    this.queues.forEach((q, i) => {
      if (q.enabled) this.interrupt(i);
    });
  }
  isr = 0;

  /** Raise a used-buffer interrupt on `vq` (as a device does when the driver allows it). */
  interrupt(vq: number): void {
    Atomics.add(this.mem.i32, this.interruptWord(vq), 1);
    Atomics.notify(this.mem.i32, this.interruptWord(vq));
  }

  /**
   * Deliver one frame on receive queue `vq` the way a device does: take as
   * many posted buffers as needed (one without MRG_RXBUF), write the header
   * (num_buffers when mergeable) then the frame, push the used elements.
   * Returns the heads used, or null when not enough buffers are posted.
   * Does not publish: call publishUsed.
   */
  deliver(vq: number, frame: Uint8Array, hdrSize: number, mergeable: boolean, numBuffersOverride?: number): number[] | null {
    const q = this.queues[vq]!;
    const heads: number[] = [];
    const saveLast = q.lastAvail;
    let off = 0;
    let total = hdrSize + frame.length;
    const lens: number[] = [];
    while (total > 0) {
      const h = this.popAvail(vq);
      if (h < 0) {
        q.lastAvail = saveLast;
        return null;
      }
      const d = this.desc(vq, h);
      if (!(d.flags & VRING_DESC_F_WRITE)) throw new Error(`rx descriptor ${h} is not device-writable`);
      heads.push(h);
      let room = d.len;
      let addr = d.addr;
      let written = 0;
      if (heads.length === 1) {
        this.mem.u8.fill(0, addr, addr + hdrSize);
        room -= hdrSize;
        addr += hdrSize;
        written += hdrSize;
        total -= hdrSize;
      }
      const n = Math.min(room, frame.length - off);
      this.mem.u8.set(frame.subarray(off, off + n), addr);
      off += n;
      total -= n;
      written += n;
      lens.push(written);
      if (!mergeable && total > 0) throw new Error("frame does not fit a non-mergeable buffer");
    }
    if (mergeable) {
      const d0 = this.desc(vq, heads[0]!);
      const nb = numBuffersOverride ?? heads.length;
      this.mem.u8[d0.addr + NET_HDR_NUM_BUFFERS] = nb & 0xff;
      this.mem.u8[d0.addr + NET_HDR_NUM_BUFFERS + 1] = nb >>> 8;
    }
    for (let i = 0; i < heads.length; i++) this.pushUsed(vq, heads[i]!, lens[i]!);
    return heads;
  }

  /** Bytes of a TX chain after the `hdrSize` header (the frame the driver sent). */
  gather(c: Chain, hdrSize: number): Uint8Array {
    const parts: number[] = [];
    let skip = hdrSize;
    for (const s of c.segs) {
      for (let i = 0; i < s.len; i++) {
        if (skip > 0) {
          skip--;
          continue;
        }
        parts.push(this.mem.u8[s.addr + i]!);
      }
    }
    return Uint8Array.from(parts);
  }

  /** Take every pending TX chain, return them; mark each used (len 0) unless `complete` is false. Publishes. */
  drainTx(vq: number, complete = true): Chain[] {
    const out: Chain[] = [];
    for (let h = this.popAvail(vq); h >= 0; h = this.popAvail(vq)) {
      const c = this.chain(vq, h);
      out.push(c);
      if (complete) this.pushUsed(vq, h, 0);
    }
    if (complete) this.publishUsed(vq);
    return out;
  }
}

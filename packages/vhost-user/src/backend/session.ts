import type { NativeBinding } from "@tpdk/native";
import { type Message, decodeAddr, decodeMemTable, decodeState, decodeU64, encode, statePayload, u64Payload } from "../message.js";
import * as P from "../protocol.js";
import { VIRTIO_F_RING_PACKED } from "@tpdk/virtio";
import { hasBit, isSubset, offeredFeatures, offeredProtocolFeatures } from "./features.js";
import { isEventfd } from "./fd-info.js";
import { GuestMemoryTable, MemTableError } from "./guest-memory.js";
import { BackendRing } from "./ring.js";

/**
 * One front-end connection's state, driven by its messages (vhost-user spec,
 * "Front-end message types"). Pure control logic: it gets decoded messages,
 * returns the reply bytes, and tells its DataPlane when a ring may run and
 * when it must stop. Any violation throws ProtocolError; the server then
 * closes the connection (the spec leaves a back-end no other answer for most
 * of them, and a front-end that sends them is broken or hostile).
 *
 * Accepted in any order the spec allows: SET_VRING_CALL before
 * SET_FEATURES (DPDK's virtio_user), ring addresses before the memory table
 * (they are translated only when the ring starts), a new memory table or
 * features while rings run (they are stopped, then restarted on the new state).
 */

export class ProtocolError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "ProtocolError";
  }
}

/** A ring handed to the data path: offsets in the mapping of `memory`. */
export interface RingRun {
  readonly index: number;
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** Next avail entry to read (SET_VRING_BASE). */
  readonly base: number;
  readonly kickFd: number;
  /** -1: the front-end polls (no call). */
  readonly callFd: number;
  /** The negotiated virtio features (number; bits below 53). */
  readonly features: number;
  readonly memory: GuestMemoryTable;
}

/** Where the session's decisions go: the data path (or a recorder in tests). */
export interface DataPlane {
  /** `ring` may be processed from now on. */
  startRing(ring: RingRun): void;
  /**
   * Stop processing ring `index`; return only once the data path no longer
   * touches it. Returns the next avail entry it would have read (the base).
   */
  stopRing(index: number): number;
  /** The memory table is no longer used by any ring (its fds may be closed after this). */
  memoryReleased?(table: GuestMemoryTable): void;
  /** An eventfd the data path writes when it could not set a ring up (fault() says which); absent or -1: none. */
  readonly faultFd?: number;
  /** A running ring the data path could not set up, as a reason; null: none. */
  fault?(): string | null;
  /** A ring whose memory file the front-end shrank under the data path (its SIGBUS guard fired), as a reason; null: none. Reports each once. */
  memoryFault?(): string | null;
}

export interface SessionOptions {
  readonly queuePairs: number;
  /** Refuse memory not sealed against shrinking (F_SEAL_SHRINK). */
  readonly requireSealed: boolean;
}

/** Requests a front-end may send before SET_OWNER (QEMU negotiates protocol features first). */
const BEFORE_OWNER = new Set([P.GET_FEATURES, P.GET_PROTOCOL_FEATURES, P.SET_PROTOCOL_FEATURES, P.GET_QUEUE_NUM, P.SET_OWNER]);
/** Requests whose own reply carries the answer (REPLY_ACK adds nothing to them). */
const HAS_REPLY = new Set([P.GET_FEATURES, P.GET_PROTOCOL_FEATURES, P.GET_QUEUE_NUM, P.GET_VRING_BASE]);

export class BackendSession {
  readonly rings: BackendRing[];
  owner = false;
  features = 0;
  featuresSet = false;
  protocolFeatures = 0;
  memory: GuestMemoryTable | null = null;
  /** Region fds of `memory` (owned here until released). */
  private memoryFds: number[] = [];
  /** The front-end negotiated packed rings (virtio 1.2 §2.8). */
  get packedNegotiated(): boolean {
    return hasBit(this.features, VIRTIO_F_RING_PACKED);
  }
  /** Memory tables seen without F_SEAL_SHRINK. */
  unsealedTables = 0;

  constructor(private readonly native: NativeBinding, private readonly dp: DataPlane, private readonly opts: SessionOptions) {
    this.rings = Array.from({ length: 2 * opts.queuePairs }, (_, i) => new BackendRing(i));
  }

  /**
   * Handle one message (its fds now belong to the session: kept or closed,
   * also when this throws). Returns the reply to send, or null.
   */
  handle(m: Message): Uint8Array | null {
    const fds = m.fds;
    try {
      if ((m.flags & P.FLAG_REPLY) !== 0) throw new ProtocolError(`${P.requestName(m.request)} has the REPLY flag: front-ends send requests`);
      if (!this.owner && !BEFORE_OWNER.has(m.request)) throw new ProtocolError(`${P.requestName(m.request)} before SET_OWNER`);
      const expected = this.expectedFds(m);
      if (fds.length !== expected) throw new ProtocolError(`${P.requestName(m.request)} came with ${fds.length} file descriptor(s), expected ${expected}`);
      const reply = this.dispatch(m);
      if (reply !== null) return reply;
      const ack = (m.flags & P.FLAG_NEED_REPLY) !== 0 && hasBit(this.protocolFeatures, P.PROTOCOL_F_REPLY_ACK) && !HAS_REPLY.has(m.request);
      return ack ? encode(m.request, P.FLAG_REPLY, u64Payload(0)) : null;
    } catch (e) {
      // Whatever was not stored is closed (dispatch empties `fds` of what it keeps).
      for (const fd of fds) this.closeFd(fd);
      fds.length = 0;
      throw e;
    }
  }

  /** Stop every ring and release everything (disconnect). Idempotent. */
  close(): void {
    this.reset();
    for (const r of this.rings) {
      this.closeFd(r.kickFd);
      this.closeFd(r.callFd);
      r.kickFd = r.callFd = -1;
    }
  }

  /** RESET_OWNER / disconnect: rings stopped, memory released, features forgotten. */
  private reset(): void {
    this.stopAll();
    for (const r of this.rings) {
      r.started = r.enabled = false;
      r.size = 0;
      r.descUva = r.availUva = r.usedUva = -1;
      r.base = 0;
    }
    this.setMemory(null, []);
    this.features = 0;
    this.featuresSet = false;
  }

  private expectedFds(m: Message): number {
    switch (m.request) {
      case P.SET_MEM_TABLE:
        return m.payload.length >= 4 ? new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0, true) : 0;
      case P.SET_VRING_KICK:
      case P.SET_VRING_CALL:
      case P.SET_VRING_ERR: {
        const v = decodeU64(m.payload);
        return v !== null && hasBit(v, 8) ? 0 : 1;
      }
      case P.SET_LOG_FD:
        return 1;
      default:
        return 0;
    }
  }

  private dispatch(m: Message): Uint8Array | null {
    const name = P.requestName(m.request);
    const u64 = (): number => {
      const v = decodeU64(m.payload);
      if (v === null) throw new ProtocolError(`${name}: payload of ${m.payload.length} bytes, expected a u64`);
      return v;
    };
    const none = (): void => {
      // SET_OWNER and RESET_OWNER carry no payload (some front-ends send a zero u64).
      if (m.payload.length !== 0 && m.payload.length !== P.U64_BYTES) throw new ProtocolError(`${name}: unexpected payload of ${m.payload.length} bytes`);
    };
    const reply = (p: Uint8Array): Uint8Array => encode(m.request, P.FLAG_REPLY, p);
    switch (m.request) {
      case P.GET_FEATURES:
        none();
        return reply(u64Payload(offeredFeatures(this.opts.queuePairs)));
      case P.SET_FEATURES: {
        const f = u64();
        if (!isSubset(f, offeredFeatures(this.opts.queuePairs))) throw new ProtocolError(`SET_FEATURES 0x${f.toString(16)} has bits that were not offered`);
        this.stopAll();
        this.features = f;
        this.featuresSet = true;
        // Without PROTOCOL_FEATURES a ring is enabled when started (vhost-user spec, "Ring states").
        if (!hasBit(f, P.VHOST_USER_F_PROTOCOL_FEATURES)) for (const r of this.rings) if (r.started) r.enabled = true;
        this.startAll();
        return null;
      }
      case P.GET_PROTOCOL_FEATURES:
        none();
        return reply(u64Payload(offeredProtocolFeatures()));
      case P.SET_PROTOCOL_FEATURES: {
        const f = u64();
        if (!isSubset(f, offeredProtocolFeatures())) throw new ProtocolError(`SET_PROTOCOL_FEATURES 0x${f.toString(16)} has bits that were not offered`);
        this.protocolFeatures = f;
        return null;
      }
      case P.GET_QUEUE_NUM:
        none();
        return reply(u64Payload(this.opts.queuePairs));
      case P.SET_OWNER:
        none();
        this.owner = true;
        return null;
      case P.RESET_OWNER:
        none();
        // As DPDK: a device reset; the connection keeps its owner (QEMU sets the device up again without SET_OWNER).
        this.reset();
        return null;
      case P.SET_MEM_TABLE: {
        const regions = decodeMemTable(m.payload);
        if (regions === null) throw new ProtocolError(`SET_MEM_TABLE: malformed table (${m.payload.length} bytes)`);
        let table: GuestMemoryTable;
        try {
          table = GuestMemoryTable.fromMessage(this.native, regions, m.fds, this.opts.requireSealed);
        } catch (e) {
          if (e instanceof MemTableError) throw new ProtocolError(`SET_MEM_TABLE: ${e.reason}`);
          throw e;
        }
        if (!table.sealed) this.unsealedTables++;
        this.stopAll();
        this.setMemory(table, m.fds.splice(0));
        this.startAll();
        return null;
      }
      case P.SET_VRING_NUM: {
        const s = this.state(m, name);
        const q = s.num;
        // Any size up to 32768 (packed rings, §2.8.10.1); a split ring's power of two is checked when it starts (the features say which).
        if (q < 1 || q > P.MAX_RING_SIZE) throw new ProtocolError(`SET_VRING_NUM: ring ${s.index} size ${q} is not between 1 and ${P.MAX_RING_SIZE}`);
        this.change(s.index, (r) => (r.size = q));
        return null;
      }
      case P.SET_VRING_ADDR: {
        const a = decodeAddr(m.payload);
        if (a === null) throw new ProtocolError(`SET_VRING_ADDR: payload of ${m.payload.length} bytes or an address of 2^53 or more`);
        this.ring(a.index, name);
        if ((a.flags & P.VRING_F_LOG) !== 0) throw new ProtocolError("SET_VRING_ADDR: used-ring logging was not negotiated");
        this.change(a.index, (r) => {
          r.descUva = a.desc;
          r.availUva = a.avail;
          r.usedUva = a.used;
        });
        return null;
      }
      case P.SET_VRING_BASE: {
        const s = this.state(m, name);
        // A split ring's base is a free-running u16 avail index (§2.7.6). A packed ring's (vhost-user
        // spec, "vring descriptor indices for packed virtqueues"): the next avail descriptor in bits 0-14,
        // its wrap counter in bit 15, the used index and its wrap counter in bits 16-30 and 31. QEMU
        // sends all 32 bits (0x80008000 for a new ring), DPDK's virtio_user the low half only. As DPDK's
        // vhost library, the ring resumes its used side where avail is: GET_VRING_BASE stopped it with
        // every buffer it took used, and a ring we never ran has nothing in flight.
        const packed = this.packedNegotiated;
        if (!packed && s.num > 0xffff) throw new ProtocolError(`SET_VRING_BASE: ring ${s.index} base ${s.num} is beyond a u16 index`);
        this.change(s.index, (r) => (r.base = packed ? s.num & 0xffff : s.num), false);
        return null;
      }
      case P.GET_VRING_BASE: {
        const s = this.state(m, name);
        const r = this.rings[s.index]!;
        // "stops the ring" (spec): the data path lets go of it before we answer.
        if (r.running) {
          r.base = this.dp.stopRing(r.index);
          r.running = false;
        }
        r.started = false;
        // Packed: the used half (bits 16-31) is the avail half: the data path stopped with nothing in flight.
        return reply(statePayload({ index: r.index, num: this.packedNegotiated ? (r.base | (r.base << 16)) >>> 0 : r.base }));
      }
      case P.SET_VRING_KICK:
      case P.SET_VRING_CALL:
      case P.SET_VRING_ERR: {
        const v = u64();
        if (v >= 0x200) throw new ProtocolError(`${name}: payload 0x${v.toString(16)} has bits above the index and no-fd flag`);
        const idx = v & P.VRING_IDX_MASK;
        this.ring(idx, name);
        // The lcore writes the call fd (eventfdWrite): anything but an eventfd would make that write throw
        // (a read-only fd), block the lcore (a pipe or socket nobody reads) or grow a file without end.
        if (m.request === P.SET_VRING_CALL && m.fds.length > 0 && !isEventfd(m.fds[0]!)) {
          throw new ProtocolError(`SET_VRING_CALL: ring ${idx}: the fd is not an eventfd`);
        }
        const fd = (v & P.VRING_NOFD_MASK) !== 0 ? -1 : m.fds.splice(0, 1)[0]!;
        if (m.request === P.SET_VRING_ERR) {
          // We never report ring errors this way: nothing to keep.
          this.closeFd(fd);
          return null;
        }
        this.change(idx, (r) => {
          if (m.request === P.SET_VRING_KICK) {
            this.closeFd(r.kickFd);
            r.kickFd = fd;
            r.started = true;
            if (!hasBit(this.features, P.VHOST_USER_F_PROTOCOL_FEATURES)) r.enabled = true;
          } else {
            this.closeFd(r.callFd);
            r.callFd = fd;
          }
        });
        return null;
      }
      case P.SET_VRING_ENABLE: {
        const s = this.state(m, name);
        if (s.num > 1) throw new ProtocolError(`SET_VRING_ENABLE: ring ${s.index} state ${s.num} is neither 0 nor 1`);
        this.change(s.index, (r) => (r.enabled = s.num === 1));
        return null;
      }
      default:
        // Not offered (logging, RARP, MTU, config, slots, status, reset_device...) or unknown.
        throw new ProtocolError(`${name} is not supported (its feature was not offered)`);
    }
  }

  private ring(index: number, name: string): BackendRing {
    const r = this.rings[index];
    if (r === undefined) throw new ProtocolError(`${name}: ring ${index} does not exist (${this.rings.length} rings: ${this.opts.queuePairs} pair(s))`);
    return r;
  }

  private state(m: Message, name: string): { index: number; num: number } {
    const s = decodeState(m.payload);
    if (s === null) throw new ProtocolError(`${name}: payload of ${m.payload.length} bytes, expected 8`);
    this.ring(s.index, name);
    return s;
  }

  /** Change a ring's description: stopped first when it runs (keeping its base), restarted after if it still may. */
  private change(index: number, f: (r: BackendRing) => void, keepBase = true): void {
    const r = this.rings[index]!;
    const wasRunning = r.running;
    if (wasRunning) {
      const base = this.dp.stopRing(index);
      if (keepBase) r.base = base;
      r.running = false;
    }
    f(r);
    this.startIfReady(r);
  }

  /** Stop every running ring, keeping its base (what it would read next). */
  private stopAll(): void {
    for (const r of this.rings) {
      if (!r.running) continue;
      r.base = this.dp.stopRing(r.index);
      r.running = false;
    }
  }

  private startAll(): void {
    for (const r of this.rings) this.startIfReady(r);
  }

  private startIfReady(r: BackendRing): void {
    const mem = this.memory;
    if (r.running || mem === null || !r.wantsToRun(mem)) return;
    const at = r.locate(mem, hasBit(this.features, VIRTIO_F_RING_PACKED));
    if (typeof at === "string") throw new ProtocolError(at);
    this.dp.startRing({ index: r.index, size: r.size, ...at, base: r.base, kickFd: r.kickFd, callFd: r.callFd, features: this.features, memory: mem });
    r.running = true;
  }

  private setMemory(table: GuestMemoryTable | null, fds: number[]): void {
    const old = this.memory;
    const oldFds = this.memoryFds;
    this.memory = table;
    this.memoryFds = fds;
    if (old !== null) {
      this.dp.memoryReleased?.(old);
      for (const fd of oldFds) this.closeFd(fd);
    }
  }

  private closeFd(fd: number): void {
    if (fd < 0) return;
    try {
      this.native.close(fd);
    } catch {
      // already closed: nothing to release
    }
  }
}


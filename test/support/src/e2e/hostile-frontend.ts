// A scripted vhost-user FRONT-END for hostile-peer tests of net_vhost ports
// in another process (l2fwd): it connects to the port's socket, shares a
// memfd as guest memory (one region above 4 GiB, as DPDK's virtio_user), and
// lets the test write anything into the rings and onto the socket: bad
// descriptors, an avail index running ahead, garbage messages, a hang-up in
// the middle of traffic. Runs on the test's thread; every wait is bounded.
import { type NativeBinding } from "@tpdk/native";
import { addrPayload, memTablePayload, protocol, statePayload, u64Payload } from "@tpdk/vhost-user";
import { MessagePeer } from "../vhost-user/message-peer.js";

/** Guest memory: 1 MiB, guest physical = front-end virtual = GUEST_BASE + offset. */
export const GUEST_BYTES = 1 << 20;
export const GUEST_BASE = 0x1_0033_8000;
/** Ring entries of both rings. */
export const HOSTILE_QUEUE_SIZE = 64;
/** Ring r's descriptor table at offset r * 0x4000, avail at +0x1000, used at +0x2000; buffers from 0x10000. */
const ringOff = (r: number): number => r * 0x4000;
export const bufferOffset = (i: number): number => 0x10000 + i * 2048;

const VRING_DESC_F_NEXT = 1;
const VRING_DESC_F_WRITE = 2;
export const DESC_NEXT = VRING_DESC_F_NEXT;
export const DESC_WRITE = VRING_DESC_F_WRITE;
export const DESC_INDIRECT = 4;
/** VERSION_1 | PROTOCOL_FEATURES: no MRG_RXBUF (12-byte header, one buffer per frame), no INDIRECT_DESC. */
const FEATURES = 2 ** 32 + 2 ** protocol.VHOST_USER_F_PROTOCOL_FEATURES;

export class HostileFrontend extends MessagePeer {
  readonly memFd: number;
  readonly g8: Uint8Array;
  readonly g16: Uint16Array;
  readonly g32: Uint32Array;
  private readonly sab: SharedArrayBuffer;
  private readonly availIdx = [0, 0];
  private readonly owned: number[] = [];
  private released = false;

  private constructor(native: NativeBinding, fd: number) {
    super(native, fd);
    this.memFd = native.memfdCreate("hostile-guest", GUEST_BYTES, { allowSealing: true });
    const sab = native.mmapShared(this.memFd, GUEST_BYTES, 0);
    this.sab = sab;
    this.g8 = new Uint8Array(sab);
    this.g16 = new Uint16Array(sab);
    this.g32 = new Uint32Array(sab);
  }

  /** Connect to a listening net_vhost port (retried for up to `timeoutMs`: its socket may not be there yet). */
  static async connect(native: NativeBinding, path: string, timeoutMs = 10_000): Promise<HostileFrontend> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return new HostileFrontend(native, native.unixConnect(path, 1000));
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** An fd this object closes at close() (eventfds it sends; the back-end gets copies). */
  private eventfd(): number {
    const fd = this.native.eventfd(0);
    this.owned.push(fd);
    return fd;
  }

  /**
   * DPDK virtio_user's order: SET_OWNER, features, protocol features (REPLY_ACK),
   * calls before SET_FEATURES, the table, then both rings of pair 0 and enable.
   * Resolves once the back-end acked the last enable (its link is then up).
   * `afterTable` runs once the back-end acked the table, before any ring is described.
   */
  async handshake(afterTable?: () => void): Promise<void> {
    this.send(protocol.SET_OWNER);
    this.send(protocol.GET_FEATURES);
    if (!(await this.reply())) throw new Error("back-end closed at GET_FEATURES");
    this.send(protocol.GET_PROTOCOL_FEATURES);
    if (!(await this.reply())) throw new Error("back-end closed at GET_PROTOCOL_FEATURES");
    this.send(protocol.SET_PROTOCOL_FEATURES, u64Payload(2 ** protocol.PROTOCOL_F_REPLY_ACK));
    for (const r of [0, 1]) this.send(protocol.SET_VRING_CALL, u64Payload(r), [this.eventfd()]);
    this.send(protocol.SET_FEATURES, u64Payload(FEATURES));
    this.send(protocol.SET_MEM_TABLE, this.memTable(), [this.memFd], protocol.FLAG_NEED_REPLY);
    if (!(await this.reply())) throw new Error("back-end refused the memory table");
    afterTable?.();
    for (const r of [0, 1]) {
      const at = GUEST_BASE + ringOff(r);
      this.send(protocol.SET_VRING_NUM, statePayload({ index: r, num: HOSTILE_QUEUE_SIZE }));
      this.send(protocol.SET_VRING_BASE, statePayload({ index: r, num: 0 }));
      this.send(protocol.SET_VRING_ADDR, addrPayload({ index: r, flags: 0, desc: at, used: at + 0x2000, avail: at + 0x1000, log: 0 }));
      this.send(protocol.SET_VRING_KICK, u64Payload(r), [this.eventfd()]);
    }
    // We poll used.idx ourselves: no interrupts wanted (the back-end then skips the call).
    for (const r of [0, 1]) this.g16[(ringOff(r) + 0x1000) >>> 1] = 1;
    this.send(protocol.SET_VRING_ENABLE, statePayload({ index: 0, num: 1 }));
    this.send(protocol.SET_VRING_ENABLE, statePayload({ index: 1, num: 1 }), [], protocol.FLAG_NEED_REPLY);
    if (!(await this.reply())) throw new Error("back-end closed at SET_VRING_ENABLE");
  }

  memTable(regions = [{ guestPhysAddr: GUEST_BASE, memorySize: GUEST_BYTES, userspaceAddr: GUEST_BASE, mmapOffset: 0 }]): Uint8Array {
    return memTablePayload(regions);
  }

  /** Write descriptor i of ring r (any values, unchecked). */
  desc(r: number, i: number, gpa: number, len: number, flags: number, next = 0): void {
    const d = (ringOff(r) + i * 16) >>> 2;
    this.g32[d] = gpa % 0x1_0000_0000;
    this.g32[d + 1] = Math.floor(gpa / 0x1_0000_0000);
    this.g32[d + 2] = len >>> 0;
    this.g16[(ringOff(r) + i * 16 + 12) >>> 1] = flags;
    this.g16[(ringOff(r) + i * 16 + 14) >>> 1] = next;
  }

  /** Put `head` in ring r's avail ring and publish avail.idx (+1). */
  offer(r: number, head: number): void {
    const a = ringOff(r) + 0x1000;
    this.g16[(a + 4 + 2 * (this.availIdx[r]! % HOSTILE_QUEUE_SIZE)) >>> 1] = head;
    this.availIdx[r] = (this.availIdx[r]! + 1) & 0xffff;
    // Pairs with the back-end's Atomics.load of avail.idx.
    Atomics.store(this.g16, (a + 2) >>> 1, this.availIdx[r]!);
  }

  /** Set ring r's avail.idx to anything (an index running ahead of the ring). */
  setAvailIdx(r: number, idx: number): void {
    Atomics.store(this.g16, (ringOff(r) + 0x1000 + 2) >>> 1, idx & 0xffff);
  }

  get availIndex(): readonly number[] {
    return this.availIdx;
  }

  usedIdx(r: number): number {
    // Pairs with the back-end's Atomics.store of used.idx.
    return Atomics.load(this.g16, (ringOff(r) + 0x2000 + 2) >>> 1);
  }

  /** Used element k of ring r: [id, len]. */
  usedElem(r: number, k: number): [number, number] {
    const e = (ringOff(r) + 0x2000 + 4 + 8 * (k % HOSTILE_QUEUE_SIZE)) >>> 2;
    return [this.g32[e]!, this.g32[e + 1]!];
  }

  /** Hang up (the back-end sees EOF) and release everything. Idempotent. */
  override close(): void {
    if (this.released) return;
    this.released = true;
    super.close();
    for (const fd of [this.memFd, ...this.owned]) {
      try {
        this.native.close(fd);
      } catch {
        // already closed
      }
    }
    this.native.unmapShared(this.sab);
  }
}

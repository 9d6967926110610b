import type { Memory } from "@tpdk/eal";
import {
  AVAIL_IDX, AVAIL_RING, DESC_ADDR, DESC_FLAGS, DESC_LEN, DESC_NEXT, DESC_SIZE, USED_ELEM_ID, USED_ELEM_LEN,
  USED_ELEM_SIZE, USED_IDX, USED_RING, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_ERR, VIRTIO_NET_OK, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_PACKED_DESC_F_AVAIL,
  VRING_PACKED_DESC_F_USED,
} from "@tpdk/virtio";

/** §5.1.6.5.2: VIRTIO_NET_CTRL_MAC class and its MAC_ADDR_SET command. */
const CTRL_MAC = 1;
const CTRL_MAC_ADDR_SET = 1;
/** Longest command we read (class, command, up to 32 bytes of data). */
const MAX_COMMAND_BYTES = 64;
/** Packed descriptor (virtio 1.2 §2.8.13): addr u64, len u32, id u16, flags u16. */
const PDESC_SIZE = 16;
const PDESC_LEN = 8;
const PDESC_ID = 12;
const PDESC_FLAGS = 14;
const F_AVAIL = VRING_PACKED_DESC_F_AVAIL;
const F_USED = VRING_PACKED_DESC_F_USED;

/** What the front-end does with a command the driver sent. */
export interface CtrlCommandSink {
  /** VQ_PAIRS_SET: true when the pair count was taken. */
  setQueuePairs(pairs: number): boolean;
  setMac(mac: Uint8Array): void;
}

/**
 * The control virtqueue answered inside the front-end, as DPDK's virtio_user
 * does (virtio_user_handle_cq): under vhost-user the back-end never sees
 * queue 2N. The ring lives in our own EAL memory, written by our own driver,
 * but it is read with the same care as a peer's: every descriptor address is
 * bounds-checked and a chain is at most `size` long.
 */
export class CtrlResponder {
  private readonly mem: Memory;
  private readonly sink: CtrlCommandSink;
  private desc = 0;
  private avail = 0;
  private used = 0;
  /** 0 while detached. */
  private size = 0;
  private ringSize = 0;
  private lastAvail = 0;
  /** RING_PACKED: the ring is packed (§2.8); position and wrap counter of the next list to read. */
  private packed = false;
  private pos = 0;
  private wrap = 1;
  private readonly cmd = new Uint8Array(MAX_COMMAND_BYTES);

  constructor(mem: Memory, sink: CtrlCommandSink) {
    this.mem = mem;
    this.sink = sink;
  }

  /**
   * The ring the driver programmed (bus addresses). The same ring again (the
   * rings resuming after a back-end came back) keeps its position; a device
   * reset calls forget() first, since the driver then starts its ring at 0.
   */
  attach(desc: number, avail: number, used: number, size: number, packed = false): void {
    if (desc !== this.desc || avail !== this.avail || used !== this.used || size !== this.ringSize || packed !== this.packed) {
      this.lastAvail = 0;
      this.pos = 0;
      this.wrap = 1;
    }
    this.packed = packed;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.ringSize = size;
    this.size = size;
  }

  /** Stop answering (commands wait in the ring until attach()). */
  detach(): void {
    this.size = 0;
  }

  /** Device reset: the next attach() starts at ring position 0. */
  forget(): void {
    this.size = 0;
    this.ringSize = 0;
    this.lastAvail = 0;
    this.pos = 0;
    this.wrap = 1;
  }

  /** Answer every command posted since the last call. Returns how many. */
  process(): number {
    if (this.size === 0) return 0;
    if (this.packed) return this.processPacked();
    const { u16, u32 } = this.mem;
    // Pairs with the driver's Atomics.store of avail.idx after it wrote the chain.
    const availIdx = Atomics.load(u16, (this.avail + AVAIL_IDX) >>> 1);
    let n = 0;
    while (this.lastAvail !== availIdx && n < this.size) {
      const slot = this.lastAvail % this.size;
      const head = u16[(this.avail + AVAIL_RING + 2 * slot) >>> 1]!;
      const status = this.answer(head);
      const usedIdx = u16[(this.used + USED_IDX) >>> 1]!;
      const e = this.used + USED_RING + USED_ELEM_SIZE * (usedIdx % this.size);
      u32[(e + USED_ELEM_ID) >>> 2] = head;
      u32[(e + USED_ELEM_LEN) >>> 2] = status < 0 ? 0 : 1;
      // Publishes the element above; pairs with the driver's Atomics.load of used.idx.
      Atomics.store(u16, (this.used + USED_IDX) >>> 1, (usedIdx + 1) & 0xffff);
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      n++;
    }
    return n;
  }

  /**
   * process() on a packed ring (virtio 1.2 §2.8): lists are read from our
   * position while its descriptor is available under our wrap counter
   * (AVAIL equal to it, USED not; the Atomics.load pairs with the driver's
   * Atomics.store of the head's flags, which it writes after the rest of
   * the list, §2.8.6). Each list is answered with one used descriptor at its
   * head's position (we answer in order, so our used position is the list's
   * start), the buffer id of its last descriptor, len 1 (or 0, no WRITE,
   * for a list we could not use); the flags' Atomics.store publishes it and
   * pairs with the driver's Atomics.load while it polls. A list running into
   * a descriptor that is not available, or longer than the ring, ends the
   * call: the rest waits (our own driver never writes one).
   */
  private processPacked(): number {
    const { u16, u32 } = this.mem;
    let n = 0;
    while (n < this.size) {
      const head = this.pos;
      const headWrap = this.wrap;
      const hf = Atomics.load(u16, (this.desc + PDESC_SIZE * head + PDESC_FLAGS) >>> 1);
      if (!availableUnder(hf, headWrap)) break;
      let got = 0;
      let ackAddr = -1;
      let bad = false;
      let p = head;
      let w = headWrap;
      let id = 0;
      let k = 0;
      for (;;) {
        const d = this.desc + PDESC_SIZE * p;
        const flags = k === 0 ? hf : Atomics.load(u16, (d + PDESC_FLAGS) >>> 1);
        if (!availableUnder(flags, w) || ++k > this.size) return n; // not a complete list: wait
        id = u16[(d + PDESC_ID) >>> 1]!;
        const addr = u32[d >>> 2]!;
        const len = u32[(d + PDESC_LEN) >>> 2]!;
        if (flags & VRING_DESC_F_INDIRECT || u32[(d + 4) >>> 2] !== 0 || !this.mem.contains(addr, len)) bad = true;
        else if (flags & VRING_DESC_F_WRITE) {
          if (len >= 1 && ackAddr < 0) ackAddr = addr;
        } else got = this.gather(addr, len, got);
        if (++p === this.size) {
          p = 0;
          w ^= 1;
        }
        if ((flags & VRING_DESC_F_NEXT) === 0) break;
      }
      const ack = bad || ackAddr < 0 || got < 2 ? -1 : this.act(got, ackAddr);
      const e = this.desc + PDESC_SIZE * head;
      u16[(e + PDESC_ID) >>> 1] = id;
      u32[(e + PDESC_LEN) >>> 2] = ack < 0 ? 0 : 1;
      const used = (headWrap !== 0 ? F_AVAIL | F_USED : 0) | (ack < 0 ? 0 : VRING_DESC_F_WRITE);
      Atomics.store(u16, (e + PDESC_FLAGS) >>> 1, used);
      this.pos = p;
      this.wrap = w;
      n++;
    }
    return n;
  }

  /** Append the readable bytes at [addr, addr + len) to the command (up to its size); returns the new count. */
  private gather(addr: number, len: number, got: number): number {
    const take = Math.min(len, MAX_COMMAND_BYTES - got);
    this.cmd.set(this.mem.u8.subarray(addr, addr + take), got);
    return got + take;
  }

  /** Execute the gathered command (`got` bytes) and write the ack at `ackAddr`; returns the ack. */
  private act(got: number, ackAddr: number): number {
    const ack = this.execute(this.cmd[0]!, this.cmd[1]!, got - 2) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
    this.mem.u8[ackAddr] = ack;
    return ack;
  }

  /** Read the chain at `head`, act, write the ack. Returns the ack written, or -1 for a chain we could not use. */
  private answer(head: number): number {
    const { u8, u16, u32 } = this.mem;
    let got = 0;
    let ackAddr = -1;
    let i = head;
    for (let hops = 0; hops < this.size; hops++) {
      if (i >= this.size) return -1;
      const d = this.desc + DESC_SIZE * i;
      const addr = u32[(d + DESC_ADDR) >>> 2]!;
      const addrHi = u32[(d + DESC_ADDR + 4) >>> 2]!;
      const len = u32[(d + DESC_LEN) >>> 2]!;
      const flags = u16[(d + DESC_FLAGS) >>> 1]!;
      if (addrHi !== 0 || !this.mem.contains(addr, len)) return -1;
      if (flags & VRING_DESC_F_WRITE) {
        if (len >= 1) ackAddr = addr;
      } else {
        const take = Math.min(len, MAX_COMMAND_BYTES - got);
        this.cmd.set(u8.subarray(addr, addr + take), got);
        got += take;
      }
      if ((flags & VRING_DESC_F_NEXT) === 0) break;
      i = u16[(d + DESC_NEXT) >>> 1]!;
    }
    if (ackAddr < 0 || got < 2) return -1;
    const ok = this.execute(this.cmd[0]!, this.cmd[1]!, got - 2);
    const ack = ok ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
    u8[ackAddr] = ack;
    return ack;
  }

  private execute(cls: number, command: number, dataLen: number): boolean {
    const c = this.cmd;
    if (cls === VIRTIO_NET_CTRL_MQ && command === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
      return dataLen >= 2 && this.sink.setQueuePairs(c[2]! | (c[3]! << 8));
    }
    if (cls === CTRL_MAC && command === CTRL_MAC_ADDR_SET) {
      if (dataLen < 6 || (c[2]! & 1) !== 0) return false;
      this.sink.setMac(c.slice(2, 8));
      return true;
    }
    // Promiscuous and all-multicast: a vhost-user port hands the back-end every frame anyway.
    return cls === VIRTIO_NET_CTRL_RX && dataLen >= 1;
  }
}

/** §2.8.1: a descriptor is available when AVAIL equals the reader's wrap counter and USED does not. */
function availableUnder(flags: number, wrap: number): boolean {
  return ((flags & F_AVAIL) !== 0) === (wrap !== 0) && ((flags & F_USED) !== 0) !== (wrap !== 0);
}

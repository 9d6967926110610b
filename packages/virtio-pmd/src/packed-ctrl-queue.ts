import { TpdkError, type Memory } from "@tpdk/eal";
import {
  PACKED_DESC_SIZE,
  PACKED_EVENT_FLAGS,
  RING_EVENT_FLAGS_DISABLE,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_PACKED_DESC_F_AVAIL,
  VRING_PACKED_DESC_F_USED,
  packedAvailFlags,
  packedRingLayout,
} from "@tpdk/virtio";
import { CtrlQueueBase } from "./ctrl-command.js";

const F_BOTH = VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;

export function packedCtrlZoneName(portId: number, size: number): string {
  return `vpmd${portId}.cq.${size}p`;
}

/**
 * The driver's control virtqueue on a packed ring (virtio 1.2 §2.8,
 * §5.1.6.5), when VIRTIO_F_RING_PACKED is negotiated (it applies to every
 * queue, this one included); the command protocol is CtrlQueueBase's
 * (ctrl-command.ts), as on a split ring (ctrl-queue.ts).
 *
 * A command is a list of two or three consecutive descriptors from the
 * driver's position (wrapping at the ring's end, the wrap counter flipping
 * there, §2.8.1), each carrying the buffer id (the head's position; §2.8.6
 * asks for it in the last one), the head's flags stored last (§2.8.6: the
 * device must see the list complete when it sees the head available).
 * Since one command is in flight, the device's used descriptor lands on the
 * head's position with the wrap counter of that position (§2.8.6: it then
 * skips the list's descriptors, and so does the driver). Used-buffer
 * notifications are disabled (driver event suppression DISABLE, §2.8.10):
 * the driver polls.
 */
export class PackedControlQueue extends CtrlQueueBase {
  /** Next position to use and its wrap counter (the driver's avail and used positions coincide here). */
  private pos = 0;
  private wrap = 1;
  /** The command in flight: its head position (also its buffer id), the flags a used head has, and the head's flags as last loaded. */
  private head = 0;
  private usedFlags = 0;
  private seenFlags = 0;

  constructor(mem: Memory, portId: number, vq: number, size: number) {
    const ring = packedRingLayout(size);
    super(mem, vq, size, packedCtrlZoneName(portId, size), { desc: ring.desc, driver: ring.driverEvent, device: ring.deviceEvent, totalBytes: ring.totalBytes });
  }

  protected resetRing(): void {
    this.mem.u16[(this.driverArea + PACKED_EVENT_FLAGS) >>> 1] = RING_EVENT_FLAGS_DISABLE;
    this.pos = 0;
    this.wrap = 1;
  }

  protected post(dataLen: number): void {
    const { u16, u32 } = this.mem;
    const head = this.pos;
    const headWrap = this.wrap;
    const id = head;
    const n = dataLen > 0 ? 3 : 2;
    let headFlags = 0;
    let p = head;
    let w = headWrap;
    for (let k = 0; k < n; k++) {
      const flags = (k === n - 1 ? VRING_DESC_F_WRITE : VRING_DESC_F_NEXT) | packedAvailFlags(w);
      const d = this.desc + PACKED_DESC_SIZE * p;
      u32[d >>> 2] = this.segmentAddr(k, n);
      u32[(d + 4) >>> 2] = 0;
      u32[(d + 8) >>> 2] = this.segmentLen(k, n, dataLen);
      u16[(d + 12) >>> 1] = id;
      if (k === 0) headFlags = flags;
      else u16[(d + 14) >>> 1] = flags;
      if (++p === this.size) {
        p = 0;
        w ^= 1;
      }
    }
    // Publishes the list and the command bytes; pairs with the device's Atomics.load of the head's flags.
    Atomics.store(u16, this.headFlagsI(head), headFlags);
    this.pos = p;
    this.wrap = w;
    this.head = head;
    this.usedFlags = headWrap !== 0 ? F_BOTH : 0;
  }

  protected answered(): boolean {
    // Pairs with the device's Atomics.store of the used descriptor's flags after it wrote the ack, id and len.
    this.seenFlags = Atomics.load(this.mem.u16, this.headFlagsI(this.head));
    return (this.seenFlags & F_BOTH) === this.usedFlags;
  }

  protected takeAnswer(what: string): number {
    const { u16, u32 } = this.mem;
    const d = this.desc + PACKED_DESC_SIZE * this.head;
    const usedId = u16[(d + 12) >>> 1]!;
    const len = u32[(d + 8) >>> 2]!;
    if (usedId !== this.head) throw new TpdkError("EPROTO", `${what}: device returned buffer id ${usedId}, the command was ${this.head}`);
    // §2.8: a used descriptor without WRITE has its len reserved (ignored by drivers): nothing was written.
    return (this.seenFlags & VRING_DESC_F_WRITE) === 0 ? 0 : len;
  }

  private headFlagsI(head: number): number {
    return (this.desc + PACKED_DESC_SIZE * head + 14) >>> 1;
  }
}

import { TpdkError, type Memory } from "@tpdk/eal";
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  DESC_SIZE,
  USED_IDX,
  USED_RING,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  splitRingLayout,
  usedEventOffset,
} from "@tpdk/virtio";
import { CtrlQueueBase } from "./ctrl-command.js";

export function ctrlZoneName(portId: number, size: number): string {
  return `vpmd${portId}.cq.${size}`;
}

/**
 * The driver's control virtqueue on a split ring (virtio 1.2 §2.7,
 * §5.1.6.5); the command protocol is CtrlQueueBase's (ctrl-command.ts).
 *
 * A command is a chain of two or three descriptors, taken in ring order
 * (descriptor i, i+1, i+2 mod the table size, the next command starting
 * after them), published with one Atomics.store of avail.idx; the answer is
 * seen when used.idx moves (by exactly one: one command in flight).
 *
 * Ring order is what IN_ORDER requires (§2.7.5: descriptors are used in the
 * order of the table, wrapping at its end); without IN_ORDER any free
 * descriptors would do and these are as good as any.
 */
export class ControlQueue extends CtrlQueueBase {
  private availIdx = 0;
  private usedIdx = 0;
  /** Next descriptor to use (free-running; the table index is & (size - 1)). */
  private nextDesc = 0;
  /** The head of the command in flight. */
  private head = 0;
  /** used.idx as answered() last loaded it. */
  private seenIdx = 0;

  /** Reserve (or reuse, across restarts) the zone of port `portId`'s control queue `vq` with `size` descriptors. Cold. */
  constructor(mem: Memory, portId: number, vq: number, size: number) {
    const ring = splitRingLayout(size);
    super(mem, vq, size, ctrlZoneName(portId, size), { desc: ring.desc, driver: ring.avail, device: ring.used, totalBytes: ring.totalBytes });
  }

  protected resetRing(eventIdx: boolean): void {
    const u16 = this.mem.u16;
    // The driver polls for the answer: no used-buffer interrupts. Under EVENT_IDX the flags stay 0
    // (§2.7.7: the driver then uses used_event) and used_event just behind 0 means none before 65536 more.
    u16[(this.driverArea + AVAIL_FLAGS) >>> 1] = eventIdx ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
    u16[(this.driverArea + usedEventOffset(this.size)) >>> 1] = 0xffff;
    this.availIdx = 0;
    this.usedIdx = 0;
    this.nextDesc = 0;
  }

  protected post(dataLen: number): void {
    const u16 = this.mem.u16;
    // The next descriptors in ring order (§2.7.5 under IN_ORDER), wrapping at the end of the table.
    const mask = this.size - 1;
    const n = dataLen > 0 ? 3 : 2;
    const head = this.nextDesc & mask;
    let d = head;
    for (let k = 0; k < n; k++) {
      const last = k === n - 1;
      const next = (d + 1) & mask;
      this.writeDesc(d, this.segmentAddr(k, n), this.segmentLen(k, n, dataLen), last ? VRING_DESC_F_WRITE : VRING_DESC_F_NEXT, last ? 0 : next);
      d = next;
    }
    this.nextDesc = (this.nextDesc + n) & 0xffff;
    this.head = head;
    u16[(this.driverArea + AVAIL_RING + 2 * (this.availIdx & mask)) >>> 1] = head;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    // Publishes the descriptors, the command bytes and the ring entry; pairs with the device's Atomics.load of avail.idx.
    Atomics.store(u16, (this.driverArea + AVAIL_IDX) >>> 1, this.availIdx);
  }

  protected answered(): boolean {
    // Pairs with the device's Atomics.store of used.idx after it wrote the ack and the used entry.
    this.seenIdx = Atomics.load(this.mem.u16, (this.deviceArea + USED_IDX) >>> 1);
    return this.seenIdx !== this.usedIdx;
  }

  protected takeAnswer(what: string): number {
    const u32 = this.mem.u32;
    const want = (this.usedIdx + 1) & 0xffff;
    const idx = this.seenIdx;
    if (idx !== want) throw new TpdkError("EPROTO", `${what}: device moved used.idx from ${this.usedIdx} to ${idx} for one command`);
    const e = (this.deviceArea + USED_RING + 8 * (this.usedIdx & (this.size - 1))) >>> 2;
    const id = u32[e]!;
    const len = u32[e + 1]!;
    this.usedIdx = want;
    if (id !== this.head) throw new TpdkError("EPROTO", `${what}: device returned descriptor ${id}, the command was ${this.head}`);
    return len;
  }

  private writeDesc(i: number, addr: number, len: number, flags: number, next: number): void {
    const { u16, u32 } = this.mem;
    const d = this.desc + DESC_SIZE * i;
    u32[d >>> 2] = addr;
    u32[(d + 4) >>> 2] = 0;
    u32[(d + 8) >>> 2] = len;
    u16[(d + 12) >>> 1] = flags;
    u16[(d + 14) >>> 1] = next;
  }
}

import { type Memory, TpdkError } from "@tpdk/eal";
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  CTRL_ACK_SIZE,
  CTRL_HDR_SIZE,
  DESC_SIZE,
  USED_IDX,
  USED_RING,
  VIRTIO_NET_OK,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  ctrlCommandName,
  splitRingLayout,
  usedEventOffset,
} from "@tpdk/virtio";
import { setupQueue } from "./bringup.js";
import type { VirtioTransport } from "./transport.js";

/** Control queue size the driver asks for (capped at the device's maximum): one command is in flight at a time. */
export const CTRL_QUEUE_SIZE = 16;
/** Longest command data the preallocated buffer holds (VQ_PAIRS_SET needs 2 bytes, RX commands 1). */
export const CTRL_DATA_MAX = 32;

// The command buffer, after the ring in the control queue's zone.
const BUF_HDR = 0; // class, command
const BUF_DATA = 8; // command-specific data
const BUF_ACK = BUF_DATA + CTRL_DATA_MAX; // the device writes VIRTIO_NET_OK / VIRTIO_NET_ERR here
const BUF_BYTES = 64;
/** First waits while polling for the answer (ms): the device thread may be asleep for up to its maxSleepMs. */
const POLL_MIN_MS = 0.02;
const POLL_MAX_MS = 1;

/** A word nobody notifies: Atomics.wait on it is a sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

export function ctrlZoneName(portId: number, size: number): string {
  return `vpmd${portId}.cq.${size}`;
}

/**
 * The driver's control virtqueue (virtio 1.2 §5.1.6.5): control path, main
 * thread only, one command in flight.
 *
 * Its zone holds the split ring and a preallocated command buffer; a command
 * is a chain of two or three descriptors, taken in ring order (descriptor
 * i, i+1, i+2 mod the table size, the next command starting after them):
 *
 *   head    class, command (2 bytes, device-readable)   NEXT
 *   +1      command data (device-readable; absent without data)  NEXT
 *   last    ack (1 byte, device-writable)
 *
 * Ring order is what IN_ORDER requires (§2.7.5: descriptors are used in the
 * order of the table, wrapping at its end); without IN_ORDER any free
 * descriptors would do and these are as good as any.
 *
 * send() posts the chain (one Atomics.store of avail.idx), kicks the queue
 * (notify word + doorbell, always: the device looks at this queue when
 * kicked), then polls used.idx, napping between looks, until the device
 * returns the chain or the timeout passes. The answer must be the chain's
 * head with used len >= 1 and ack VIRTIO_NET_OK; anything else is an error
 * naming the command.
 */
export class ControlQueue {
  readonly vq: number;
  readonly size: number;
  readonly zone: number;
  private readonly mem: Memory;
  private readonly desc: number;
  private readonly avail: number;
  private readonly used: number;
  private readonly buf: number;
  private notifyOff = 0;
  private availIdx = 0;
  private usedIdx = 0;
  /** Next descriptor to use (free-running; the table index is & (size - 1)). */
  private nextDesc = 0;

  /** Reserve (or reuse, across restarts) the zone of port `portId`'s control queue `vq` with `size` descriptors. Cold. */
  constructor(mem: Memory, portId: number, vq: number, size: number) {
    this.mem = mem;
    this.vq = vq;
    this.size = size;
    const ring = splitRingLayout(size);
    const name = ctrlZoneName(portId, size);
    const z = mem.lookup(name) ?? mem.reserve(name, ring.totalBytes + BUF_BYTES, 4096);
    this.zone = z.offset;
    this.desc = z.offset + ring.desc;
    this.avail = z.offset + ring.avail;
    this.used = z.offset + ring.used;
    this.buf = z.offset + ring.totalBytes;
  }

  /**
   * Fresh ring (after a device reset the queue starts over), fixed
   * descriptor links, then program it into the device (traps) and enable it.
   * Before DRIVER_OK, like every queue.
   */
  program(t: VirtioTransport, eventIdx: boolean): void {
    const { u8, u16 } = this.mem;
    u8.fill(0, this.desc, this.buf + BUF_BYTES);
    // The driver polls for the answer: no used-buffer interrupts. Under EVENT_IDX the flags stay 0
    // (§2.7.7: the driver then uses used_event) and used_event just behind 0 means none before 65536 more.
    u16[(this.avail + AVAIL_FLAGS) >>> 1] = eventIdx ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
    u16[(this.avail + usedEventOffset(this.size)) >>> 1] = 0xffff;
    this.availIdx = 0;
    this.usedIdx = 0;
    this.nextDesc = 0;
    this.notifyOff = setupQueue(t, this.vq, this.size, this.desc, this.avail, this.used);
  }

  /**
   * Send one command and wait for the device's answer (control path; may
   * block up to `timeoutMs`). Throws TpdkError: "ECTRL" when the device
   * answers VIRTIO_NET_ERR or returns the command unanswered, "ETIMEDOUT"
   * when it does not return it in time, "EPROTO" for an answer that names
   * another buffer or moves used.idx by more than one.
   */
  send(t: VirtioTransport, cls: number, cmd: number, data: ArrayLike<number>, timeoutMs: number): void {
    const { u8, u16, u32 } = this.mem;
    const what = `${t.name}: control command ${ctrlCommandName(cls, cmd)}${data.length ? `(${Array.from(data).join(",")})` : ""}`;
    if (data.length > CTRL_DATA_MAX) throw new TpdkError("EINVAL", `${what}: more than ${CTRL_DATA_MAX} bytes of data`);
    u8[this.buf + BUF_HDR] = cls;
    u8[this.buf + BUF_HDR + 1] = cmd;
    for (let i = 0; i < data.length; i++) u8[this.buf + BUF_DATA + i] = data[i]!;
    u8[this.buf + BUF_ACK] = 0xff; // neither OK nor ERR until the device writes it
    // The next descriptors in ring order (§2.7.5 under IN_ORDER), wrapping at the end of the table.
    const mask = this.size - 1;
    const head = this.nextDesc & mask;
    let d = head;
    const next = (i: number): number => (i + 1) & mask;
    if (data.length > 0) {
      this.writeDesc(d, this.buf + BUF_HDR, CTRL_HDR_SIZE, VRING_DESC_F_NEXT, next(d));
      d = next(d);
      this.writeDesc(d, this.buf + BUF_DATA, data.length, VRING_DESC_F_NEXT, next(d));
    } else {
      this.writeDesc(d, this.buf + BUF_HDR, CTRL_HDR_SIZE, VRING_DESC_F_NEXT, next(d));
    }
    d = next(d);
    this.writeDesc(d, this.buf + BUF_ACK, CTRL_ACK_SIZE, VRING_DESC_F_WRITE, 0);
    this.nextDesc = (this.nextDesc + (data.length > 0 ? 3 : 2)) & 0xffff;
    u16[(this.avail + AVAIL_RING + 2 * (this.availIdx & mask)) >>> 1] = head;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    // Publishes the descriptors, the command bytes and the ring entry; pairs with the device's Atomics.load of avail.idx.
    Atomics.store(u16, (this.avail + AVAIL_IDX) >>> 1, this.availIdx);
    t.kick(this.notifyOff);
    const want = (this.usedIdx + 1) & 0xffff;
    const deadline = performance.now() + timeoutMs;
    let nap = POLL_MIN_MS;
    let idx: number;
    // Pairs with the device's Atomics.store of used.idx after it wrote the ack and the used entry.
    while ((idx = Atomics.load(u16, (this.used + USED_IDX) >>> 1)) === this.usedIdx) {
      if (performance.now() >= deadline) {
        throw new TpdkError("ETIMEDOUT", `${what} not answered within ${timeoutMs} ms; is the device thread alive?`);
      }
      Atomics.wait(NAP, 0, 0, nap);
      nap = nap * 2 < POLL_MAX_MS ? nap * 2 : POLL_MAX_MS;
    }
    if (idx !== want) throw new TpdkError("EPROTO", `${what}: device moved used.idx from ${this.usedIdx} to ${idx} for one command`);
    const e = (this.used + USED_RING + 8 * (this.usedIdx & (this.size - 1))) >>> 2;
    const id = u32[e]!;
    const len = u32[e + 1]!;
    this.usedIdx = want;
    if (id !== head) throw new TpdkError("EPROTO", `${what}: device returned descriptor ${id}, the command was ${head}`);
    if (len < CTRL_ACK_SIZE) throw new TpdkError("ECTRL", `${what}: device returned the command unanswered (used len ${len})`);
    const ack = u8[this.buf + BUF_ACK]!;
    if (ack !== VIRTIO_NET_OK) throw new TpdkError("ECTRL", `${what}: device answered ${ack === 1 ? "VIRTIO_NET_ERR" : `ack ${ack}`}`);
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

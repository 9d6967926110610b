import { type Memory, TpdkError } from "@tpdk/eal";
import {
  CTRL_ACK_SIZE,
  CTRL_HDR_SIZE,
  PACKED_DESC_SIZE,
  PACKED_EVENT_FLAGS,
  RING_EVENT_FLAGS_DISABLE,
  VIRTIO_NET_OK,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_PACKED_DESC_F_AVAIL,
  VRING_PACKED_DESC_F_USED,
  ctrlCommandName,
  packedAvailFlags,
  packedRingLayout,
} from "@tpdk/virtio";
import { setupQueue } from "./bringup.js";
import { CTRL_DATA_MAX } from "./ctrl-queue.js";
import type { VirtioTransport } from "./transport.js";

// The command buffer, after the ring in the zone (as in ctrl-queue.ts).
const BUF_HDR = 0;
const BUF_DATA = 8;
const BUF_ACK = BUF_DATA + CTRL_DATA_MAX;
const BUF_BYTES = 64;
const POLL_MIN_MS = 0.02;
const POLL_MAX_MS = 1;
const F_BOTH = VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED;
/** A word nobody notifies: Atomics.wait on it is a sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

export function packedCtrlZoneName(portId: number, size: number): string {
  return `vpmd${portId}.cq.${size}p`;
}

/**
 * The driver's control virtqueue on a packed ring (virtio 1.2 §2.8,
 * §5.1.6.5): what ControlQueue (ctrl-queue.ts) does on a split ring, when
 * VIRTIO_F_RING_PACKED is negotiated (it applies to every queue, this one
 * included). Control path, main thread, one command in flight.
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
export class PackedControlQueue {
  readonly vq: number;
  readonly size: number;
  readonly zone: number;
  private readonly mem: Memory;
  private readonly desc: number;
  private readonly driverEvent: number;
  private readonly deviceEvent: number;
  private readonly buf: number;
  private notifyOff = 0;
  /** Next position to use and its wrap counter (the driver's avail and used positions coincide here). */
  private pos = 0;
  private wrap = 1;

  constructor(mem: Memory, portId: number, vq: number, size: number) {
    this.mem = mem;
    this.vq = vq;
    this.size = size;
    const ring = packedRingLayout(size);
    const name = packedCtrlZoneName(portId, size);
    const z = mem.lookup(name) ?? mem.reserve(name, ring.totalBytes + BUF_BYTES, 4096);
    this.zone = z.offset;
    this.desc = z.offset + ring.desc;
    this.driverEvent = z.offset + ring.driverEvent;
    this.deviceEvent = z.offset + ring.deviceEvent;
    this.buf = z.offset + ring.totalBytes;
  }

  /** Fresh ring (position 0, wrap counter 1), programmed into the device and enabled. Before DRIVER_OK. */
  program(t: VirtioTransport): void {
    const { u8, u16 } = this.mem;
    u8.fill(0, this.desc, this.buf + BUF_BYTES);
    u16[(this.driverEvent + PACKED_EVENT_FLAGS) >>> 1] = RING_EVENT_FLAGS_DISABLE;
    this.pos = 0;
    this.wrap = 1;
    this.notifyOff = setupQueue(t, this.vq, this.size, this.desc, this.driverEvent, this.deviceEvent);
  }

  /** Same contract as ControlQueue.send (ECTRL, ETIMEDOUT, EPROTO). */
  send(t: VirtioTransport, cls: number, cmd: number, data: ArrayLike<number>, timeoutMs: number): void {
    const { u8, u16, u32 } = this.mem;
    const what = `${t.name}: control command ${ctrlCommandName(cls, cmd)}${data.length ? `(${Array.from(data).join(",")})` : ""}`;
    if (data.length > CTRL_DATA_MAX) throw new TpdkError("EINVAL", `${what}: more than ${CTRL_DATA_MAX} bytes of data`);
    u8[this.buf + BUF_HDR] = cls;
    u8[this.buf + BUF_HDR + 1] = cmd;
    for (let i = 0; i < data.length; i++) u8[this.buf + BUF_DATA + i] = data[i]!;
    u8[this.buf + BUF_ACK] = 0xff; // neither OK nor ERR until the device writes it
    const head = this.pos;
    const headWrap = this.wrap;
    const id = head;
    const n = data.length > 0 ? 3 : 2;
    let headFlags = 0;
    let p = head;
    let w = headWrap;
    for (let k = 0; k < n; k++) {
      const last = k === n - 1;
      const addr = k === 0 ? this.buf + BUF_HDR : last ? this.buf + BUF_ACK : this.buf + BUF_DATA;
      const len = k === 0 ? CTRL_HDR_SIZE : last ? CTRL_ACK_SIZE : data.length;
      const flags = (last ? VRING_DESC_F_WRITE : VRING_DESC_F_NEXT) | packedAvailFlags(w);
      const d = this.desc + PACKED_DESC_SIZE * p;
      u32[d >>> 2] = addr;
      u32[(d + 4) >>> 2] = 0;
      u32[(d + 8) >>> 2] = len;
      u16[(d + 12) >>> 1] = id;
      if (k === 0) headFlags = flags;
      else u16[(d + 14) >>> 1] = flags;
      if (++p === this.size) {
        p = 0;
        w ^= 1;
      }
    }
    const headFlagsI = (this.desc + PACKED_DESC_SIZE * head + 14) >>> 1;
    // Publishes the list and the command bytes; pairs with the device's Atomics.load of the head's flags.
    Atomics.store(u16, headFlagsI, headFlags);
    this.pos = p;
    this.wrap = w;
    t.kick(this.notifyOff);
    const usedFlags = headWrap !== 0 ? F_BOTH : 0;
    const deadline = performance.now() + timeoutMs;
    let nap = POLL_MIN_MS;
    let f: number;
    // Pairs with the device's Atomics.store of the used descriptor's flags after it wrote the ack, id and len.
    while (((f = Atomics.load(u16, headFlagsI)) & F_BOTH) !== usedFlags) {
      if (performance.now() >= deadline) {
        throw new TpdkError("ETIMEDOUT", `${what} not answered within ${timeoutMs} ms; is the device thread alive?`);
      }
      Atomics.wait(NAP, 0, 0, nap);
      nap = nap * 2 < POLL_MAX_MS ? nap * 2 : POLL_MAX_MS;
    }
    const d = this.desc + PACKED_DESC_SIZE * head;
    const usedId = u16[(d + 12) >>> 1]!;
    const len = u32[(d + 8) >>> 2]!;
    if (usedId !== id) throw new TpdkError("EPROTO", `${what}: device returned buffer id ${usedId}, the command was ${id}`);
    if (len < CTRL_ACK_SIZE || (f & VRING_DESC_F_WRITE) === 0) {
      throw new TpdkError("ECTRL", `${what}: device returned the command unanswered (used len ${len})`);
    }
    const ack = u8[this.buf + BUF_ACK]!;
    if (ack !== VIRTIO_NET_OK) throw new TpdkError("ECTRL", `${what}: device answered ${ack === 1 ? "VIRTIO_NET_ERR" : `ack ${ack}`}`);
  }
}

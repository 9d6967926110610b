import { type Memory, TpdkError } from "@tpdk/eal";
import { CTRL_ACK_SIZE, CTRL_HDR_SIZE, VIRTIO_NET_OK, ctrlCommandName } from "@tpdk/virtio";
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

/** Where a ring's three areas lie in its zone (virtio 1.2 §2.6: descriptor, driver and device area). */
export interface RingAreas {
  readonly desc: number;
  readonly driver: number;
  readonly device: number;
  readonly totalBytes: number;
}

/**
 * The driver's control virtqueue (virtio 1.2 §5.1.6.5): the command protocol,
 * whatever the ring layout. Control path, main thread only, one command in
 * flight.
 *
 * Its zone holds the ring and a preallocated command buffer; a command is a
 * buffer of two or three segments:
 *
 *   0       class, command (2 bytes, device-readable)
 *   1       command data (device-readable; absent without data)
 *   last    ack (1 byte, device-writable)
 *
 * send() writes the command bytes, has the ring layout post the segments
 * (post(): one Atomics.store that publishes them), kicks the queue (notify
 * word + doorbell, always: the device looks at this queue when kicked),
 * then polls (answered()), napping between looks, until the device returns
 * the buffer or the timeout passes. The answer must name the command's
 * buffer (takeAnswer()) with used len >= 1, the ack written, and ack
 * VIRTIO_NET_OK; anything else is an error naming the command. The split
 * ring is ctrl-queue.ts, the packed ring packed-ctrl-queue.ts.
 */
export abstract class CtrlQueueBase {
  readonly vq: number;
  readonly size: number;
  readonly zone: number;
  protected readonly mem: Memory;
  /** Byte addresses of the ring's areas (§2.6). */
  protected readonly desc: number;
  protected readonly driverArea: number;
  protected readonly deviceArea: number;
  private readonly buf: number;
  private notifyOff = 0;

  /** Reserve (or reuse, across restarts) the zone `name` for a ring laid out as `ring` plus the command buffer. Cold. */
  constructor(mem: Memory, vq: number, size: number, name: string, ring: RingAreas) {
    this.mem = mem;
    this.vq = vq;
    this.size = size;
    const z = mem.lookup(name) ?? mem.reserve(name, ring.totalBytes + BUF_BYTES, 4096);
    this.zone = z.offset;
    this.desc = z.offset + ring.desc;
    this.driverArea = z.offset + ring.driver;
    this.deviceArea = z.offset + ring.device;
    this.buf = z.offset + ring.totalBytes;
  }

  /**
   * Fresh ring (after a device reset the queue starts over: zeroed, then
   * resetRing()), programmed into the device (traps) and enabled. Before
   * DRIVER_OK, like every queue.
   */
  program(t: VirtioTransport, eventIdx: boolean): void {
    this.mem.u8.fill(0, this.desc, this.buf + BUF_BYTES);
    this.resetRing(eventIdx);
    this.notifyOff = setupQueue(t, this.vq, this.size, this.desc, this.driverArea, this.deviceArea);
  }

  /**
   * Send one command and wait for the device's answer (control path; may
   * block up to `timeoutMs`). Throws TpdkError: "ECTRL" when the device
   * answers VIRTIO_NET_ERR or returns the command unanswered, "ETIMEDOUT"
   * when it does not return it in time, "EPROTO" for an answer that names
   * another buffer (or, on a split ring, moves used.idx by more than one).
   */
  send(t: VirtioTransport, cls: number, cmd: number, data: ArrayLike<number>, timeoutMs: number): void {
    const u8 = this.mem.u8;
    const what = `${t.name}: control command ${ctrlCommandName(cls, cmd)}${data.length ? `(${Array.from(data).join(",")})` : ""}`;
    if (data.length > CTRL_DATA_MAX) throw new TpdkError("EINVAL", `${what}: more than ${CTRL_DATA_MAX} bytes of data`);
    u8[this.buf + BUF_HDR] = cls;
    u8[this.buf + BUF_HDR + 1] = cmd;
    for (let i = 0; i < data.length; i++) u8[this.buf + BUF_DATA + i] = data[i]!;
    u8[this.buf + BUF_ACK] = 0xff; // neither OK nor ERR until the device writes it
    this.post(data.length);
    t.kick(this.notifyOff);
    const deadline = performance.now() + timeoutMs;
    let nap = POLL_MIN_MS;
    while (!this.answered()) {
      if (performance.now() >= deadline) {
        throw new TpdkError("ETIMEDOUT", `${what} not answered within ${timeoutMs} ms; is the device thread alive?`);
      }
      Atomics.wait(NAP, 0, 0, nap);
      nap = nap * 2 < POLL_MAX_MS ? nap * 2 : POLL_MAX_MS;
    }
    const len = this.takeAnswer(what);
    if (len < CTRL_ACK_SIZE) throw new TpdkError("ECTRL", `${what}: device returned the command unanswered (used len ${len})`);
    const ack = u8[this.buf + BUF_ACK]!;
    if (ack !== VIRTIO_NET_OK) throw new TpdkError("ECTRL", `${what}: device answered ${ack === 1 ? "VIRTIO_NET_ERR" : `ack ${ack}`}`);
  }

  /** Segment k of a command of n segments (n = 2 without data, 3 with): its address in the command buffer. */
  protected segmentAddr(k: number, n: number): number {
    return k === 0 ? this.buf + BUF_HDR : k === n - 1 ? this.buf + BUF_ACK : this.buf + BUF_DATA;
  }

  /** Segment k's length: the header, the data, or the ack byte. */
  protected segmentLen(k: number, n: number, dataLen: number): number {
    return k === 0 ? CTRL_HDR_SIZE : k === n - 1 ? CTRL_ACK_SIZE : dataLen;
  }

  /** The ring layout's state at a fresh start (the areas are zeroed already). */
  protected abstract resetRing(eventIdx: boolean): void;
  /** Post the command's segments (2 without data, 3 with) as one buffer and publish it (one Atomics.store). */
  protected abstract post(dataLen: number): void;
  /** Has the device returned the command's buffer? (one Atomics.load, pairing with the device's store.) */
  protected abstract answered(): boolean;
  /**
   * Take the returned buffer: throws EPROTO when it is not the command's;
   * returns the used len (0 when the device did not mark the ack written).
   */
  protected abstract takeAnswer(what: string): number;
}

import { type Memory, TpdkError } from "@tpdk/eal";
import {
  HDR_DEVICE_ID,
  HDR_DOORBELL_ADDR,
  HDR_HEARTBEAT,
  HDR_MAGIC,
  HDR_MAX_QUEUES,
  HDR_NOTIFY_OFF_MULTIPLIER,
  HDR_VERSION,
  INTERRUPT_WORDS,
  NOTIFY_AREA,
  TRANSPORT_MAGIC,
  TRANSPORT_MAX_QUEUES,
  TRANSPORT_REGION_BYTES,
  TRANSPORT_VERSION,
  TRAP_OP_READ,
  TRAP_OP_WRITE,
  TRAP_REQUEST,
  TRAP_STATE,
  trapAnswered,
  trapPost,
  trapTake,
  trapWithdraw,
  VIRTIO_ID_NET,
} from "@tpdk/virtio";

/**
 * The one interface between the driver and a device (ixy's lesson: keep the
 * device contract small). Register accesses (`read`/`write`) are the control
 * path: each is a trap into the device. The data path never calls this
 * object; it touches the rings and the notify/interrupt words directly, by the
 * absolute addresses `notifyAddr`/`interruptAddr`/`doorbellAddr` report.
 *
 * `space` is SPACE_COMMON_CFG, SPACE_DEVICE_CFG or SPACE_ISR; `width` 1, 2 or 4
 * (8-byte registers are accessed as two 4-byte halves, §4.1.3.1).
 */
export interface VirtioTransport {
  /** For messages: "virtio0". */
  readonly name: string;
  read(space: number, off: number, width: 1 | 2 | 4): number;
  write(space: number, off: number, width: 1 | 2 | 4, value: number): void;
  /** Available-buffer notification for `queue` (control path use; the data path kicks by address). */
  kick(queue: number): void;
  /** Absolute byte address (in EAL memory) of the i32 notify word for a queue with this queue_notify_off. */
  notifyAddr(queueNotifyOff: number): number;
  /** Absolute byte address of the i32 interrupt word of `queue`. */
  interruptAddr(queue: number): number;
  /** Absolute byte address of the i32 word the device thread sleeps on (notify it after a kick). */
  doorbellAddr(): number;
  /**
   * Optional: absolute byte address (never 0) of two i32 words for a queue with this
   * queue_notify_off: [an eventfd the data path writes to kick, or -1 while the rings are down;
   * the number of threads writing it right now]. The lcore then kicks by writing the eventfd
   * itself (QueueBase.kick, with the @tpdk/native addon) instead of through the doorbell; the
   * transport sets -1, then waits for the count to reach 0, before it closes the eventfd.
   * Without it (the built-in device) the doorbell is the kick.
   */
  kickFdAddr?(queueNotifyOff: number): number;
  /** The device's heartbeat counter (moves while the device thread is alive). */
  heartbeat(): number;
  /** Number of queues the transport region has notify/interrupt words for. */
  maxQueues(): number;
  /**
   * Optional: a transport whose device can lose the rings' positions while the port runs
   * (net_virtio_user, server=1, packed rings: a new back-end cannot resume where the old one
   * stopped) calls `reset` before it hands the rings to the new device; the port then starts
   * every ring over as at start (PortQueues.resetRings). Registered once, by the port.
   */
  onRingsLost?(reset: () => void): void;
}

/**
 * Check the transport header the device wrote at `region` and return the
 * doorbell address. Cold path; shared by both implementations.
 */
function checkHeader(mem: Memory, region: number, name: string): void {
  if (!Number.isInteger(region) || region <= 0 || (region & 63) !== 0 || !mem.contains(region, TRANSPORT_REGION_BYTES)) {
    throw new TpdkError("EINVAL", `${name}: transport offset ${region} is not a 64-byte aligned region inside EAL memory`);
  }
  const w = region >>> 2;
  const magic = Atomics.load(mem.u32, w + (HDR_MAGIC >>> 2));
  if (magic !== TRANSPORT_MAGIC) {
    throw new TpdkError("ENODEV", `${name}: no virtio transport at offset ${region} (magic 0x${magic.toString(16)})`);
  }
  const version = mem.u32[w + (HDR_VERSION >>> 2)]!;
  if (version !== TRANSPORT_VERSION) {
    throw new TpdkError("ENODEV", `${name}: transport version ${version}, driver speaks ${TRANSPORT_VERSION}`);
  }
  const id = mem.u32[w + (HDR_DEVICE_ID >>> 2)]!;
  if (id !== VIRTIO_ID_NET) throw new TpdkError("ENODEV", `${name}: virtio device id ${id} is not a network card (1)`);
}

/** Address helpers both implementations share: the words live in the transport region either way. */
abstract class RegionTransport implements VirtioTransport {
  readonly name: string;
  protected readonly mem: Memory;
  protected readonly region: number;
  private readonly doorbell: number;
  private readonly nQueues: number;
  private readonly notifyMultiplier: number;

  constructor(mem: Memory, region: number, name: string) {
    checkHeader(mem, region, name);
    this.name = name;
    this.mem = mem;
    this.region = region;
    const w = region >>> 2;
    this.doorbell = mem.u32[w + (HDR_DOORBELL_ADDR >>> 2)]!;
    this.nQueues = Math.min(mem.u32[w + (HDR_MAX_QUEUES >>> 2)]!, TRANSPORT_MAX_QUEUES);
    this.notifyMultiplier = mem.u32[w + (HDR_NOTIFY_OFF_MULTIPLIER >>> 2)]! || 4;
    if ((this.doorbell & 3) !== 0 || !mem.contains(this.doorbell, 4)) {
      throw new TpdkError("ENODEV", `${name}: device doorbell address ${this.doorbell} is not an aligned word in memory`);
    }
  }

  abstract read(space: number, off: number, width: 1 | 2 | 4): number;
  abstract write(space: number, off: number, width: 1 | 2 | 4, value: number): void;

  notifyAddr(queueNotifyOff: number): number {
    return this.region + NOTIFY_AREA + queueNotifyOff * this.notifyMultiplier;
  }
  interruptAddr(queue: number): number {
    return this.region + INTERRUPT_WORDS + 4 * queue;
  }
  doorbellAddr(): number {
    return this.doorbell;
  }
  maxQueues(): number {
    return this.nQueues;
  }
  heartbeat(): number {
    return Atomics.load(this.mem.u32, (this.region + HDR_HEARTBEAT) >>> 2);
  }
  kick(queue: number): void {
    // A posted write (transport.ts "Kicks"): count on the queue's word, then wake the device thread.
    Atomics.add(this.mem.i32, this.notifyAddr(queue) >>> 2, 1);
    ringDoorbell(this.mem.i32, this.doorbell >>> 2);
  }
}

/**
 * Wake the device thread. Adding before notifying (Backoff.wake semantics)
 * means a device that polled just before going to sleep sees the word moved
 * and does not sleep through the wake; a device that only waits on the word
 * is woken by the notify either way.
 */
export function ringDoorbell(i32: Int32Array, index: number): void {
  Atomics.add(i32, index, 1);
  Atomics.notify(i32, index);
}

export const DEFAULT_TRAP_TIMEOUT_MS = 2000;

/**
 * The real transport: register accesses go through the trap mailbox to the
 * device thread (protocol in @tpdk/virtio transport.ts). Control path only;
 * one trap in flight (the control path is single-threaded).
 *
 * A device that does not answer within `timeoutMs` is dead: TpdkError
 * "ETIMEDOUT". The request is withdrawn first so a late device cannot perform
 * a stale access.
 */
export class SharedMemoryTransport extends RegionTransport {
  readonly timeoutMs: number;
  private readonly wState: number;

  constructor(mem: Memory, region: number, opts: { name?: string; timeoutMs?: number } = {}) {
    super(mem, region, opts.name ?? "virtio");
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TRAP_TIMEOUT_MS;
    this.wState = (region + TRAP_STATE) >>> 2;
  }

  read(space: number, off: number, width: 1 | 2 | 4): number {
    return this.trap(TRAP_OP_READ, space, off, width, 0);
  }

  write(space: number, off: number, width: 1 | 2 | 4, value: number): void {
    this.trap(TRAP_OP_WRITE, space, off, width, value);
  }

  private trap(op: number, space: number, off: number, width: number, value: number): number {
    const { i32, u32 } = this.mem;
    const r = this.region;
    trapPost(i32, u32, r, op, space, off, width, value);
    ringDoorbell(i32, this.doorbellAddr() >>> 2);
    const deadline = Date.now() + this.timeoutMs;
    while (!trapAnswered(i32, r)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        // Withdraw the request; if the device completed it meanwhile, take the answer.
        if (trapWithdraw(i32, r)) break;
        throw new TpdkError(
          "ETIMEDOUT",
          `${this.name}: device not answering (${op === TRAP_OP_READ ? "read" : "write"} of register space ${space} offset 0x${off.toString(16)} timed out after ${this.timeoutMs} ms); is the device thread alive?`,
        );
      }
      Atomics.wait(i32, this.wState, TRAP_REQUEST, Math.min(left, 50));
    }
    return trapTake(i32, u32, r);
  }
}

/** The device side of an in-process transport: answers register accesses synchronously. */
export interface TrapHandler {
  read(space: number, off: number, width: number): number;
  write(space: number, off: number, width: number, value: number): void;
  /** Optional: told about control-path kicks (data-path kicks only touch the notify words). */
  kicked?(queue: number): void;
}

/**
 * A transport whose traps are direct calls into a device object in the same
 * thread: unit tests drive a fake device synchronously with it. The notify and
 * interrupt words still live in the transport region, so the data path runs
 * unchanged.
 */
export class InProcessTransport extends RegionTransport {
  private readonly handler: TrapHandler;
  /** Number of traps so far (tests assert the data path takes none). */
  traps = 0;

  constructor(mem: Memory, region: number, handler: TrapHandler, name = "virtio") {
    super(mem, region, name);
    this.handler = handler;
  }

  read(space: number, off: number, width: 1 | 2 | 4): number {
    this.traps++;
    return this.handler.read(space, off, width) >>> 0;
  }

  write(space: number, off: number, width: 1 | 2 | 4, value: number): void {
    this.traps++;
    this.handler.write(space, off, width, value >>> 0);
  }

  override kick(queue: number): void {
    super.kick(queue);
    this.handler.kicked?.(queue);
  }
}

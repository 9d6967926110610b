import { TpdkError } from "@tpdk/eal";
import type { VirtioTransport } from "./transport.js";

/**
 * Default silence after which a device whose heartbeat stopped is declared dead (ms): 2 s, since
 * on a loaded machine (two CPUs, other busy processes) a live device thread can go unscheduled
 * for more than half a second; a dead one is still reported within seconds.
 */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 2000;

/**
 * Is the device still there? A device thread that dies or hangs stops
 * answering traps and stops bumping the transport heartbeat (HDR_HEARTBEAT,
 * about once per ms while it lives, idle or not). The port learns it on the
 * main thread only, two ways (both cold; the data path pays nothing):
 *
 *  - `check(now)`, called from a timer (an app's statistics or drain timer):
 *    the heartbeat has not moved for `timeoutMs` of the checker's own
 *    running time: a gap between two checks counts at most a quarter of
 *    the timeout, so a checker that was itself starved (a loaded machine
 *    that ran neither thread for a second) does not blame the device, while
 *    a device that stays silent across checks made at the app's pace (l2fwd:
 *    every 50 ms) is declared dead after `timeoutMs`;
 *  - a register access (trap) that times out.
 *
 * Death is sticky until the port is closed: from then on the port makes no
 * trap at all (GuardedTransport fails them at once with ENODEV), so stop()
 * and close() never wait on the device again. A device that was only stalled
 * and comes back is not trusted again: stop() has already handed its ring
 * buffers back to the pool.
 */
export class DeviceLiveness {
  readonly timeoutMs: number;
  #reason: string | null = null;
  #deaths = 0;
  private lastBeat = 0;
  /** When `lastBeat` was first seen (performance.now() ms); NaN before the first check. */
  private beatSeenAt = NaN;
  /** The previous check (ms), and the silence counted since `lastBeat` moved (gaps capped at maxGapMs). */
  private lastCheckAt = NaN;
  private quiet = 0;
  private readonly maxGapMs: number;
  private readonly heartbeat: () => number;

  constructor(heartbeat: () => number, timeoutMs = DEFAULT_HEARTBEAT_TIMEOUT_MS) {
    if (!(timeoutMs > 0)) throw new TpdkError("EINVAL", `heartbeat timeout ${timeoutMs} ms must be positive`);
    this.heartbeat = heartbeat;
    this.timeoutMs = timeoutMs;
    this.maxGapMs = timeoutMs / 4;
  }

  get alive(): boolean {
    return this.#reason === null;
  }

  /** Why the device is considered dead, or null while it is alive. */
  get reason(): string | null {
    return this.#reason;
  }

  /** Times this port declared its device dead (xstat `device_not_answering`). */
  get deaths(): number {
    return this.#deaths;
  }

  /**
   * Sample the heartbeat. Returns false once the device is dead: the
   * heartbeat has not moved since a sample taken `timeoutMs` or more ago.
   * Checking more often than the device beats (~1 ms) is harmless; checking
   * less often than `timeoutMs` only delays detection.
   */
  check(now: number): boolean {
    if (this.#reason !== null) return false;
    const beat = this.heartbeat();
    const gap = now - this.lastCheckAt;
    this.lastCheckAt = now;
    if (Number.isNaN(this.beatSeenAt) || beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.beatSeenAt = now;
      this.quiet = 0;
      return true;
    }
    this.quiet += gap < this.maxGapMs ? gap : this.maxGapMs;
    if (this.quiet >= this.timeoutMs) {
      this.declare(`no heartbeat for ${Math.round(now - this.beatSeenAt)} ms`);
      return false;
    }
    return true;
  }

  /** Mark the device dead (first reason wins). */
  declare(reason: string): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#deaths++;
  }

  /** A fresh start (port closed and probed again): forget the verdict and the samples. */
  forget(): void {
    this.#reason = null;
    this.beatSeenAt = NaN;
    this.lastCheckAt = NaN;
    this.quiet = 0;
  }
}

/**
 * The port's view of its transport: register accesses fail at once (ENODEV)
 * once the device is known dead, and a trap that times out declares it dead.
 * The data path never goes through here (it uses the notify/interrupt words
 * by address).
 */
export class GuardedTransport implements VirtioTransport {
  readonly name: string;
  private readonly inner: VirtioTransport;
  private readonly live: DeviceLiveness;

  constructor(inner: VirtioTransport, live: DeviceLiveness) {
    this.inner = inner;
    this.live = live;
    this.name = inner.name;
  }

  read(space: number, off: number, width: 1 | 2 | 4): number {
    this.assertAlive();
    try {
      return this.inner.read(space, off, width);
    } catch (e) {
      throw this.noticed(e);
    }
  }

  write(space: number, off: number, width: 1 | 2 | 4, value: number): void {
    this.assertAlive();
    try {
      this.inner.write(space, off, width, value);
    } catch (e) {
      throw this.noticed(e);
    }
  }

  kick(queue: number): void {
    this.inner.kick(queue);
  }
  notifyAddr(queueNotifyOff: number): number {
    return this.inner.notifyAddr(queueNotifyOff);
  }
  interruptAddr(queue: number): number {
    return this.inner.interruptAddr(queue);
  }
  doorbellAddr(): number {
    return this.inner.doorbellAddr();
  }
  kickFdAddr(queueNotifyOff: number): number {
    return this.inner.kickFdAddr?.(queueNotifyOff) ?? 0;
  }
  heartbeat(): number {
    return this.inner.heartbeat();
  }
  maxQueues(): number {
    return this.inner.maxQueues();
  }

  private assertAlive(): void {
    const why = this.live.reason;
    if (why !== null) throw new TpdkError("ENODEV", `${this.name}: device is not answering (${why}); close the port`);
  }

  private noticed(e: unknown): unknown {
    if (e instanceof TpdkError && e.code === "ETIMEDOUT") this.live.declare("a register access timed out");
    return e;
  }
}

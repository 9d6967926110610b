import type { Features } from "@tpdk/virtio";
import { readLinkUp, readStatus } from "./bringup.js";
import { DeviceLiveness, GuardedTransport } from "./liveness.js";
import { ResetWatch } from "./reset-watch.js";
import type { VirtioTransport } from "./transport.js";

/**
 * Can the port's device carry traffic? Main thread only, off the data path.
 * Two verdicts, each owned by its own watcher:
 *
 *  - dead (liveness.ts): the heartbeat stopped, a trap or a control command
 *    timed out, or the app said so. Sticky; from then on the port's
 *    transport (`transport`, a GuardedTransport) makes no trap at all;
 *  - needs a reset (reset-watch.ts): DEVICE_NEEDS_RESET read after a
 *    configuration change may have been notified (§2.1.2); stop() and
 *    start() recover.
 */
export class PortHealth {
  readonly #live: DeviceLiveness;
  readonly #watch = new ResetWatch();
  readonly #t: VirtioTransport;

  constructor(transport: VirtioTransport, heartbeatTimeoutMs: number) {
    this.#live = new DeviceLiveness(() => transport.heartbeat(), heartbeatTimeoutMs);
    this.#t = new GuardedTransport(transport, this.#live);
  }

  /** The device's transport as the port uses it: traps fail at once (ENODEV) once the device is known dead. */
  get transport(): VirtioTransport {
    return this.#t;
  }

  get alive(): boolean {
    return this.#live.alive;
  }

  /** Why the device is considered dead, or null. */
  get deadReason(): string | null {
    return this.#live.reason;
  }

  /** Dead reason, else the needs-reset reason, else null. */
  get fault(): string | null {
    return this.#live.reason ?? this.#watch.reason;
  }

  get needsReset(): boolean {
    return this.#watch.reason !== null;
  }

  /** Times the device was declared dead (xstat `device_not_answering`). */
  get deaths(): number {
    return this.#live.deaths;
  }

  /** Times DEVICE_NEEDS_RESET was noticed (xstat `device_needs_reset`). */
  get resetsNeeded(): number {
    return this.#watch.count;
  }

  /** The device is dead (first reason wins). */
  declare(reason: string): void {
    this.#live.declare(reason);
  }

  /** At start, after DRIVER_OK: the interrupt words that tell of a configuration change (byte addresses). */
  arm(words: readonly number[], i32: Int32Array): void {
    this.#watch.arm(words, i32);
  }

  disarm(): void {
    this.#watch.disarm();
  }

  /**
   * The watchdog (port.checkDevice): false once the heartbeat has stopped, or (a started
   * port) once a status read after a moved interrupt word shows DEVICE_NEEDS_RESET.
   */
  check(now: number, started: boolean, i32: Int32Array): boolean {
    if (!this.#live.check(now)) return false;
    if (started && this.#watch.due(i32)) {
      try {
        this.#watch.note(readStatus(this.#t));
      } catch (e) {
        if (!this.#live.alive) return false; // the read timed out: the device is dead, said above
        throw e;
      }
    }
    return this.#watch.reason === null;
  }

  /** Link up: a started port whose device is alive, needs no reset (status read now) and says the link is up. */
  linkUp(started: boolean, negotiated: Features): boolean {
    if (!started || !this.#live.alive || this.#watch.reason !== null) return false;
    try {
      // A device that needs a reset processes nothing: its link is down whatever the config says.
      if (!this.#watch.note(readStatus(this.#t))) return false;
      return readLinkUp(this.#t, negotiated);
    } catch (e) {
      // A trap that timed out declared the device dead: that is a link down, not an error.
      if (!this.#live.alive) return false;
      throw e;
    }
  }
}

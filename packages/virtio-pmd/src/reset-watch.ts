import { STATUS_DEVICE_NEEDS_RESET } from "@tpdk/virtio";

/**
 * Noticing DEVICE_NEEDS_RESET after start (virtio 1.2 §2.1.2): a device
 * that hits an error it cannot recover from sets the bit and, with
 * DRIVER_OK set, MUST send a configuration change notification. It then
 * stops processing the queues: without this watch the port would stall in
 * silence (RX returns 0, TX never drains).
 *
 * Main thread only, off the data path: the port's checkDevice() (the app's
 * timer) asks due(), true when one of the watched interrupt words moved
 * since the last look (the transport delivers a configuration change by
 * waking every queue's word, ISR bit 1; the port watches those of queues it
 * asks no used-buffer interrupts of, so they move for little else); then the
 * port reads device_status (one trap) and passes it to note(). linkStatus() reads the
 * status with the link too. There is no periodic read on a timer: a trap
 * to a device that died a moment before would block the main thread for
 * the whole trap timeout, and the heartbeat watch reports that death anyway.
 */
export class ResetWatch {
  #reason: string | null = null;
  #count = 0;
  /** i32 indices of the interrupt words of the started queues. */
  private words: readonly number[] = [];
  private lastSum = 0;

  /** Why the port cannot run until it is restarted, or null. */
  get reason(): string | null {
    return this.#reason;
  }

  /** Times DEVICE_NEEDS_RESET was noticed (xstat `device_needs_reset`). */
  get count(): number {
    return this.#count;
  }

  /** At start (after DRIVER_OK): watch these interrupt words (byte addresses). */
  arm(addrs: readonly number[], i32: Int32Array): void {
    this.#reason = null;
    this.words = addrs.map((a) => a >>> 2);
    this.lastSum = this.sum(i32);
  }

  /** At stop: nothing to watch. */
  disarm(): void {
    this.words = [];
  }

  /** A status read is due: an interrupt word moved, so a configuration change may have been notified. */
  due(i32: Int32Array): boolean {
    if (this.words.length === 0 || this.#reason !== null) return false;
    const s = this.sum(i32);
    if (s === this.lastSum) return false;
    this.lastSum = s;
    return true;
  }

  /** The status just read; true while the device does not need a reset. */
  note(status: number): boolean {
    if (this.#reason !== null) return false;
    if ((status & STATUS_DEVICE_NEEDS_RESET) === 0) return true;
    this.#reason = "device needs reset (DEVICE_NEEDS_RESET); stop and start the port";
    this.#count++;
    return false;
  }

  private sum(i32: Int32Array): number {
    // An index loop: the app's watchdog calls this every 50 ms for the whole run, unoptimized (an iterator per call).
    const words = this.words;
    let s = 0;
    for (let i = 0; i < words.length; i++) s = (s + Atomics.load(i32, words[i]!)) | 0;
    return s;
  }
}

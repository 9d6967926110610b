import type { DeviceQueue } from "./virtqueue.js";

/**
 * Which receive queues frames go to (virtio 1.2 §5.1.6.5.5), and the
 * receive filter state the driver set (§5.1.6.5.1). Rebuilt at DRIVER_OK,
 * VQ_PAIRS_SET and reset (cold); read by the RX path once per pass.
 *
 * `set` and `count` are plain fields (the RX path reads them per pass), written
 * only here. One entry: every frame goes there; several: steered per flow
 * (rx-steer.ts), or round-robin (`nextRoundRobin`) for frames without one.
 */
export class RxSteering {
  /** Virtqueue indices of the enabled receive queues among the first activePairs, in order. */
  readonly set: Int32Array;
  /** Entries of `set` in use (0: no receive queue is enabled). Written only here. */
  count = 0;
  /** Round-robin position for frames the flow hash cannot classify. */
  #next = 0;
  #promisc = false;
  #allmulti = false;

  constructor(maxPairs: number) {
    this.set = new Int32Array(maxPairs);
  }

  /** Rebuild from the first `pairs` pairs' enabled receive queues (cold). */
  rebuild(pairs: number, queues: readonly DeviceQueue[]): void {
    let n = 0;
    for (let p = 0; p < pairs; p++) {
      if (queues[2 * p]!.enabled) this.set[n++] = 2 * p;
    }
    this.count = n;
    this.#next = 0;
  }

  /** An index into `set` for a frame without a flow (requires count > 0); advances the cursor. */
  nextRoundRobin(): number {
    const h = this.#next;
    this.#next = h + 1 < this.count ? h + 1 : 0;
    return h;
  }

  /**
   * VIRTIO_NET_CTRL_RX_PROMISC / _ALLMULTI as the driver last set them. Recorded only:
   * the device has no filter, it delivers every frame.
   */
  setPromisc(on: boolean): void {
    this.#promisc = on;
  }
  setAllmulti(on: boolean): void {
    this.#allmulti = on;
  }
  get promisc(): boolean {
    return this.#promisc;
  }
  get allmulti(): boolean {
    return this.#allmulti;
  }

  /** Device reset: nothing is steered until DRIVER_OK; filters off. */
  reset(): void {
    this.count = 0;
    this.#next = 0;
    this.#promisc = this.#allmulti = false;
  }
}

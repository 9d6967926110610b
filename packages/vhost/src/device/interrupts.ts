import type { Memory } from "@tpdk/eal";
import { ISR_BASE, ISR_CONFIG, ISR_QUEUE, TRANSPORT_STAT_INTERRUPTS, VIRTIO_MSI_NO_VECTOR, interruptWordOffset } from "@tpdk/virtio";
import type { DeviceQueue } from "./virtqueue.js";

/**
 * The device's notifications to the driver (virtio 1.2 §4.1.5.3-4): the ISR
 * byte, each queue's interrupt word (bumped and woken: the driver may sleep
 * on it) and config_msix_vector (kept, unused: no MSI-X here).
 */
export class DeviceInterrupts {
  readonly #mem: Memory;
  /** Transport region (byte offset). */
  readonly #t: number;
  #configMsix = VIRTIO_MSI_NO_VECTOR;

  constructor(mem: Memory, transport: number) {
    this.#mem = mem;
    this.#t = transport;
  }

  /** config_msix_vector: no MSI-X here; the value is kept so a driver reading it back sees what it wrote. */
  get configMsix(): number {
    return this.#configMsix;
  }
  setConfigMsix(v: number): void {
    this.#configMsix = v;
  }

  /** Used-buffer notification for queue q (§4.1.5.4): ISR bit 0, then bump and wake its interrupt word. */
  used(q: DeviceQueue): void {
    const mem = this.#mem;
    const t = this.#t;
    mem.u8[t + ISR_BASE] = mem.u8[t + ISR_BASE]! | ISR_QUEUE;
    this.#wake(q.index);
    const s = (t + TRANSPORT_STAT_INTERRUPTS) >>> 2;
    mem.u32[s] = mem.u32[s]! + 1;
  }

  /**
   * Configuration change notification (§4.1.5.3): ISR bit 1. The transport has
   * no separate config vector, so every enabled queue's interrupt word is woken
   * too: a driver sleeping on any of them rereads status and ISR.
   */
  configChanged(queues: readonly DeviceQueue[], ctrl: DeviceQueue | null): void {
    const mem = this.#mem;
    mem.u8[this.#t + ISR_BASE] = mem.u8[this.#t + ISR_BASE]! | ISR_CONFIG;
    for (const q of queues) if (q.enabled) this.#wake(q.index);
    if (ctrl !== null && ctrl.enabled) this.#wake(ctrl.index);
  }

  /** Read and clear the ISR (§4.1.4.5). */
  readIsr(): number {
    const v = this.#mem.u8[this.#t + ISR_BASE]!;
    this.#mem.u8[this.#t + ISR_BASE] = 0;
    return v;
  }

  /** Device reset: ISR clear, no vector. Interrupt words stay monotonic. */
  reset(): void {
    this.#configMsix = VIRTIO_MSI_NO_VECTOR;
    this.#mem.u8[this.#t + ISR_BASE] = 0;
  }

  #wake(index: number): void {
    const i32 = this.#mem.i32;
    const w = (this.#t + interruptWordOffset(index)) >>> 2;
    Atomics.add(i32, w, 1);
    Atomics.notify(i32, w);
  }
}

import { type Memory, TpdkError } from "@tpdk/eal";
import { VIRTIO_F_EVENT_IDX, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ, ctrlQueueIndex } from "@tpdk/virtio";
import { queueMaxSize } from "./bringup.js";
import { CTRL_QUEUE_SIZE, type CtrlQueueBase } from "./ctrl-command.js";
import { ControlQueue } from "./ctrl-queue.js";
import { PackedControlQueue } from "./packed-ctrl-queue.js";
import type { DeviceInit } from "./device-init.js";
import type { PortHealth } from "./port-health.js";

/**
 * The port's control-command sender (virtio 1.2 §5.1.6.5), main thread: owns
 * the control queue (created at the first start, programmed at every start
 * before DRIVER_OK) and sends one command at a time on it, the ack checked.
 * A command that times out declares the device dead, as a trap that times
 * out does.
 */
export class ControlSender {
  readonly #name: string;
  readonly #mem: Memory;
  readonly #portId: number;
  readonly #init: DeviceInit;
  readonly #health: PortHealth;
  readonly #timeoutMs: number;
  #cq: CtrlQueueBase | null = null;

  constructor(name: string, mem: Memory, portId: number, init: DeviceInit, health: PortHealth, timeoutMs: number) {
    this.#name = name;
    this.#mem = mem;
    this.#portId = portId;
    this.#init = init;
    this.#health = health;
    this.#timeoutMs = timeoutMs;
  }

  /** CTRL_VQ negotiated and the queue programmed: its virtqueue index, else null. */
  get vq(): number | null {
    return this.#cq !== null && this.#init.has(VIRTIO_NET_F_CTRL_VQ) ? this.#cq.vq : null;
  }

  /** Create (first start) and program the control queue; before DRIVER_OK. */
  program(): void {
    const t = this.#health.transport;
    const vq = ctrlQueueIndex(this.#init.devicePairs, this.#init.has(VIRTIO_NET_F_MQ));
    const packed = this.#init.packed;
    if (this.#cq === null || this.#cq.vq !== vq || this.#cq instanceof PackedControlQueue !== packed) {
      const max = queueMaxSize(t, vq);
      if (max === 0) throw new TpdkError("EQUEUE", `${this.#name}: device has no control virtqueue ${vq}`);
      let size = 1;
      while (size * 2 <= max && size < CTRL_QUEUE_SIZE) size *= 2;
      if (size < 4) throw new TpdkError("EQUEUE", `${this.#name}: control virtqueue ${vq} holds ${max} descriptors; a command needs 3`);
      this.#cq = packed ? new PackedControlQueue(this.#mem, this.#portId, vq, size) : new ControlQueue(this.#mem, this.#portId, vq, size);
    }
    // RING_PACKED applies to every queue, the control queue included (virtio 1.2 §2.8).
    this.#cq.program(t, this.#init.has(VIRTIO_F_EVENT_IDX));
  }

  /**
   * Send a control command and check its ack (blocks until the device answers, at most
   * trapTimeoutMs). `allowed`: the port is started, or start() is past DRIVER_OK.
   * Throws TpdkError naming the command (ECTRL, ETIMEDOUT, EPROTO, ENODEV, ESTATE).
   */
  send(cls: number, cmd: number, data: ArrayLike<number>, allowed: boolean): void {
    const cq = this.#cq;
    if (cq === null || !allowed) {
      const why = this.#init.has(VIRTIO_NET_F_CTRL_VQ) ? "the port is not started" : "CTRL_VQ is not negotiated";
      throw new TpdkError("ESTATE", `${this.#name}: cannot send a control command: ${why}`);
    }
    if (!this.#health.alive) throw new TpdkError("ENODEV", `${this.#name}: device is not answering (${this.#health.deadReason})`);
    try {
      cq.send(this.#health.transport, cls, cmd, data, this.#timeoutMs);
    } catch (e) {
      if (e instanceof TpdkError && e.code === "ETIMEDOUT") this.#health.declare("a control command timed out");
      throw e;
    }
  }
}

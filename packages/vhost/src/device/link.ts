import type { Memory } from "@tpdk/eal";
import { CTRL_LINK_REQUEST } from "./layout.js";
import type { ConfigSpace } from "./config-space.js";

/**
 * The device's link (virtio 1.2 §5.1.4 status, VIRTIO_NET_S_LINK_UP): the
 * main thread asks for up or down through a control word (Vhost.setLink);
 * the device thread applies it about once per ms. `up` is a plain field (the
 * paths read it once per pass), written only here.
 */
export class DeviceLink {
  readonly #i32: Int32Array;
  readonly #requestI: number;
  readonly #config: ConfigSpace;
  /** Frames flow only while the link is up. Written only here. */
  up: boolean;

  constructor(mem: Memory, transport: number, config: ConfigSpace) {
    this.#i32 = mem.i32;
    this.#requestI = (transport + CTRL_LINK_REQUEST) >>> 2;
    this.#config = config;
    // Pairs with the main thread's Atomics.store of the request (initTransport, Vhost.setLink).
    this.up = Atomics.load(this.#i32, this.#requestI) !== 0;
  }

  /**
   * Apply the link state the main thread asked for (cold, ~once per ms). True when it
   * changed: the configuration changed (§2.5.1), so the caller tells a running driver.
   */
  applyRequest(): boolean {
    const want = Atomics.load(this.#i32, this.#requestI) !== 0;
    if (want === this.up) return false;
    this.up = want;
    this.#config.setLinkStatus(want);
    return true;
  }
}

import { TpdkError } from "@tpdk/eal";
import {
  ETH_HDR_LEN,
  type Features,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  featureNames,
  hasFeature,
  netHdrSize,
} from "@tpdk/virtio";
import {
  addStatus,
  readDeviceFeatures,
  readNetConfig,
  readStatus,
  resetDevice,
  setFailed,
  writeDriverFeatures,
} from "./bringup.js";
import { QF_ANY_LAYOUT, QF_EVENT_IDX, QF_INDIRECT, QF_IN_ORDER, QF_MRG_RXBUF, QF_PACKED } from "./layout.js";
import { defaultMac, isZeroMac } from "./mac.js";
import { negotiateFeatures } from "./negotiate.js";
import type { ResolvedOptions } from "./options.js";
import { PMD_MAX_QUEUES } from "./port-layout.js";
import type { VirtioTransport } from "./transport.js";

const RESET_TIMEOUT_MS = 1000;
/** One 802.1Q tag: a VLAN-tagged frame of MTU bytes is this much longer (DPDK's RTE_VLAN_HLEN). */
const VLAN_TAG_LEN = 4;

/**
 * Device initialisation (virtio 1.2 §3.1.1), main thread: reset, ACKNOWLEDGE,
 * DRIVER, feature negotiation, FEATURES_OK (read back), the device
 * configuration, the MAC; DRIVER_OK at start; resets at stop. Owns what the
 * device and the driver agreed on (features, header size, MTU, pairs, MAC),
 * read by the port through getters.
 *
 * Every failing step sets FAILED in the device status and throws TpdkError
 * naming the step (`step`).
 */
export class DeviceInit {
  readonly #name: string;
  readonly #portId: number;
  readonly #t: VirtioTransport;
  readonly #opts: ResolvedOptions;
  #offered: Features = { lo: 0, hi: 0 };
  #negotiated: Features = { lo: 0, hi: 0 };
  #hdrSize = 12;
  #mac: Uint8Array = new Uint8Array(6);
  #mtu = 1500;
  #maxPairs = 1;
  /** max_virtqueue_pairs as the device reports it (1 without MQ): where its control queue is. */
  #devicePairs = 1;
  /** The device was reset after the last bring-up (stop, failed start): start() runs it again. */
  #isReset = false;

  constructor(name: string, portId: number, transport: VirtioTransport, opts: ResolvedOptions) {
    this.#name = name;
    this.#portId = portId;
    this.#t = transport;
    this.#opts = opts;
  }

  /** Negotiated features. */
  get features(): Features {
    return this.#negotiated;
  }
  /** Features the device offered. */
  get offered(): Features {
    return this.#offered;
  }
  has(bit: number): boolean {
    return hasFeature(this.#negotiated, bit);
  }
  get hdrSize(): number {
    return this.#hdrSize;
  }
  get mtu(): number {
    return this.#mtu;
  }
  /** The MAC in use (mac=, else the device's, else ours); the caller must not change it. */
  get mac(): Uint8Array {
    return this.#mac;
  }
  /** Queue pairs configure() accepts: the device's, at most PMD_MAX_QUEUES. */
  get maxPairs(): number {
    return this.#maxPairs;
  }
  get devicePairs(): number {
    return this.#devicePairs;
  }
  get isReset(): boolean {
    return this.#isReset;
  }
  /** VIRTIO_F_RING_PACKED negotiated: every data queue is a packed ring. */
  get packed(): boolean {
    return this.has(VIRTIO_F_RING_PACKED);
  }
  /** What TX may send: the negotiated MTU (the device's limit, §5.1.4.1), else 1500, plus the Ethernet header and one VLAN tag. */
  get maxFrame(): number {
    return this.#mtu + ETH_HDR_LEN + VLAN_TAG_LEN;
  }

  /** The queue zone's QF_* flags for the negotiated features. */
  get queueFlags(): number {
    let flags = 0;
    if (this.has(VIRTIO_F_IN_ORDER)) flags |= QF_IN_ORDER;
    if (this.has(VIRTIO_F_EVENT_IDX)) flags |= QF_EVENT_IDX;
    if (this.has(VIRTIO_NET_F_MRG_RXBUF)) flags |= QF_MRG_RXBUF;
    if (this.has(VIRTIO_F_INDIRECT_DESC)) flags |= QF_INDIRECT;
    if (this.has(VIRTIO_F_VERSION_1) || this.has(VIRTIO_F_ANY_LAYOUT)) flags |= QF_ANY_LAYOUT;
    if (this.has(VIRTIO_F_RING_PACKED)) flags |= QF_PACKED;
    return flags;
  }

  /** Run `fn` as bring-up step `step`: on failure set FAILED and rethrow naming the step. */
  step<T>(step: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      setFailed(this.#t);
      if (e instanceof TpdkError) {
        if (e.message.includes(`during ${step}`) || e.code === "EFEATURES") throw e;
        throw new TpdkError(e.code, `${e.message} (during ${step})`, { cause: e });
      }
      throw new TpdkError("EIO", `${this.#name}: ${step} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** reset .. FEATURES_OK and config (first probe), or the same again before a restart. */
  init(first: boolean): void {
    const t = this.#t;
    this.step("reset", () => resetDevice(t, RESET_TIMEOUT_MS));
    this.step("ACKNOWLEDGE", () => addStatus(t, STATUS_ACKNOWLEDGE));
    this.step("DRIVER", () => addStatus(t, STATUS_DRIVER));
    this.step("feature negotiation", () => {
      const offered = readDeviceFeatures(t);
      if (!first && (offered.lo !== this.#offered.lo || offered.hi !== this.#offered.hi)) {
        throw new TpdkError("EFEATURES", `${this.#name}: device features changed across a restart`);
      }
      this.#offered = offered;
      if (first) this.#negotiated = negotiateFeatures(this.#name, offered, this.#opts);
      writeDriverFeatures(t, this.#negotiated);
    });
    this.step("FEATURES_OK", () => {
      addStatus(t, STATUS_FEATURES_OK);
      if ((readStatus(t) & STATUS_FEATURES_OK) === 0) {
        throw new TpdkError(
          "EFEATURES",
          `${this.#name}: device refused FEATURES_OK for features [${featureNames(this.#negotiated).join(", ")}]`,
        );
      }
    });
    this.#isReset = false;
    const f = this.#negotiated;
    this.#hdrSize = netHdrSize(hasFeature(f, VIRTIO_F_VERSION_1), hasFeature(f, VIRTIO_NET_F_MRG_RXBUF));
    // The driver never writes the device configuration (§5.1.4.2: read-only in virtio 1.x): a
    // restart has nothing to redo here; start() sends MAC_ADDR_SET again after the reset.
    if (!first) return;
    const cfg = this.step("config read", () => readNetConfig(t, f));
    this.#devicePairs = Math.max(1, cfg.maxPairs);
    this.#maxPairs = Math.min(this.#devicePairs, PMD_MAX_QUEUES);
    this.#mtu = cfg.mtu ?? 1500;
    // mac= wins (given to the device with MAC_ADDR_SET when CTRL_MAC_ADDR is negotiated, else the
    // driver's own address with MAC left out: negotiate.ts); then the device's; then ours.
    if (this.#opts.mac) this.#mac = Uint8Array.from(this.#opts.mac);
    else if (cfg.mac && !isZeroMac(cfg.mac)) this.#mac = cfg.mac;
    else this.#mac = defaultMac(this.#portId);
  }

  /** DRIVER_OK, read back: FAILED, DEVICE_NEEDS_RESET or a dropped bit is EDEVICE. */
  driverOk(): void {
    this.step("DRIVER_OK", () => {
      addStatus(this.#t, STATUS_DRIVER_OK);
      const s = readStatus(this.#t);
      if (s & (STATUS_DEVICE_NEEDS_RESET | STATUS_FAILED) || !(s & STATUS_DRIVER_OK)) {
        throw new TpdkError("EDEVICE", `${this.#name}: device status 0x${s.toString(16)} after DRIVER_OK`);
      }
    });
  }

  /**
   * Reset the device (stop, close) unless it is known dead (`alive` false: no trap is
   * made); the next start() runs the bring-up again. Throws if the device does not answer.
   */
  reset(alive: boolean): void {
    try {
      if (alive) resetDevice(this.#t, RESET_TIMEOUT_MS);
    } finally {
      this.#isReset = true;
    }
  }

  /**
   * A start failed: reset the device (best effort; it stops touching the buffers the
   * caller frees next) and set FAILED again to say the driver gave up.
   */
  abort(alive: boolean): void {
    try {
      if (alive) {
        resetDevice(this.#t, RESET_TIMEOUT_MS);
        setFailed(this.#t);
      }
    } catch {
      // The device is failing anyway; what matters is the error being thrown.
    }
    this.#isReset = true;
  }

  /** Why configure() allows no more queues than it does (messages). */
  pairsLimit(): string {
    if (!hasFeature(this.#offered, VIRTIO_NET_F_MQ)) return "the device does not offer MQ (one queue pair)";
    if (!this.has(VIRTIO_NET_F_MQ)) return "MQ is not negotiated (mq=0, or the device lacks CTRL_VQ)";
    if (this.#devicePairs > PMD_MAX_QUEUES) return `the driver handles ${PMD_MAX_QUEUES} queues per direction (the device has ${this.#devicePairs} pairs)`;
    return `the device's max_virtqueue_pairs is ${this.#devicePairs}`;
  }
}

import type { Memory } from "@tpdk/eal";
import {
  COMMON_CFG_BASE,
  CC_DEVICE_STATUS,
  DEVICE_CFG_BASE,
  HDR_DEVICE_ID,
  HDR_DOORBELL_ADDR,
  HDR_MAGIC,
  HDR_MAX_QUEUES,
  HDR_NOTIFY_OFF_MULTIPLIER,
  HDR_VERSION,
  NET_CFG_MAC,
  NET_CFG_MAX_VIRTQUEUE_PAIRS,
  NET_CFG_MTU,
  NET_CFG_STATUS,
  NOTIFY_OFF_MULTIPLIER,
  TRANSPORT_MAGIC,
  TRANSPORT_VERSION,
  VIRTIO_ID_NET,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_S_LINK_UP,
} from "@tpdk/virtio";
import type { DeviceConfig } from "../config.js";
import { CTRL_LINK_REQUEST } from "./layout.js";

/**
 * The virtio-net device configuration (virtio 1.2 §5.1.4) in the transport
 * region, and config_generation (§2.5.1, §4.1.4.3): every change the device
 * makes to the configuration goes through here, so the generation moves with
 * it. The driver only reads it (read-only in virtio 1.x, §5.1.4.2).
 */
export class ConfigSpace {
  readonly #mem: Memory;
  readonly #cfg: DeviceConfig;
  /** Byte offset of the device configuration. */
  readonly #base: number;
  #generation = 0;

  constructor(mem: Memory, cfg: DeviceConfig) {
    this.#mem = mem;
    this.#cfg = cfg;
    this.#base = cfg.zoneOffset + DEVICE_CFG_BASE;
  }

  get generation(): number {
    return this.#generation;
  }

  /**
   * VIRTIO_NET_CTRL_MAC_ADDR_SET (§5.1.6.5.2), already validated: the
   * default MAC becomes bytes[off..off+6) and the config `mac` shows it (as
   * QEMU's does), with a new config_generation. The device has no receive
   * filter, so nothing else changes. A reset restores the configured MAC.
   */
  setMac(bytes: Uint8Array, off: number): void {
    const c = this.#base + NET_CFG_MAC;
    for (let i = 0; i < 6; i++) this.#mem.u8[c + i] = bytes[off + i]!;
    this.#generation = (this.#generation + 1) & 0xff;
  }

  /** At reset: a MAC the driver set with MAC_ADDR_SET lasts until the reset (QEMU restores its configured one too). */
  restoreMac(): void {
    const c = this.#base + NET_CFG_MAC;
    for (let i = 0; i < 6; i++) this.#mem.u8[c + i] = this.#cfg.mac[i]!;
  }

  /** The config `status` field's LINK_UP bit changed (§5.1.4): a new generation. */
  setLinkStatus(up: boolean): void {
    writeNetConfigStatus(this.#mem, this.#cfg.zoneOffset, up);
    this.#generation = (this.#generation + 1) & 0xff;
  }
}

/**
 * Write the transport header and the device configuration backing when the
 * device is created (main thread, cold), so a driver sees a valid header even
 * before the device thread runs.
 */
export function initTransport(mem: Memory, cfg: DeviceConfig, doorbellAddr: number, linkUp: boolean): void {
  const t = cfg.zoneOffset;
  const u32 = mem.u32;
  u32[(t + HDR_VERSION) >>> 2] = TRANSPORT_VERSION;
  u32[(t + HDR_DEVICE_ID) >>> 2] = VIRTIO_ID_NET;
  u32[(t + HDR_MAX_QUEUES) >>> 2] = deviceQueueCount(cfg);
  u32[(t + HDR_DOORBELL_ADDR) >>> 2] = doorbellAddr;
  u32[(t + HDR_NOTIFY_OFF_MULTIPLIER) >>> 2] = NOTIFY_OFF_MULTIPLIER;
  const c = t + DEVICE_CFG_BASE;
  for (let i = 0; i < 6; i++) mem.u8[c + NET_CFG_MAC + i] = cfg.mac[i]!;
  mem.u16[(c + NET_CFG_MAX_VIRTQUEUE_PAIRS) >>> 1] = cfg.queuePairs;
  mem.u16[(c + NET_CFG_MTU) >>> 1] = cfg.mtu;
  writeNetConfigStatus(mem, t, linkUp);
  Atomics.store(mem.i32, (t + CTRL_LINK_REQUEST) >>> 2, linkUp ? 1 : 0);
  Atomics.store(mem.u8, t + COMMON_CFG_BASE + CC_DEVICE_STATUS, 0);
  // Published last: a driver that sees the magic sees the rest of the header.
  Atomics.store(u32, (t + HDR_MAGIC) >>> 2, TRANSPORT_MAGIC);
}

/** True when the device offers VIRTIO_NET_F_CTRL_VQ (and so has a control queue). */
export function ctrlOffered(cfg: DeviceConfig): boolean {
  return ((cfg.offeredLo >>> VIRTIO_NET_F_CTRL_VQ) & 1) === 1;
}

/** num_queues (§4.1.4.3): the data queues of every pair, plus the control queue when offered. */
export function deviceQueueCount(cfg: DeviceConfig): number {
  return 2 * cfg.queuePairs + (ctrlOffered(cfg) ? 1 : 0);
}

function writeNetConfigStatus(mem: Memory, t: number, up: boolean): void {
  mem.u16[(t + DEVICE_CFG_BASE + NET_CFG_STATUS) >>> 1] = up ? VIRTIO_NET_S_LINK_UP : 0;
}

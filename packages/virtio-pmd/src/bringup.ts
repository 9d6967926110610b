import { TpdkError } from "@tpdk/eal";
import {
  CC_CONFIG_GENERATION,
  CC_QUEUE_NOTIFY_OFF,
  type Features,
  NET_CFG_MAC,
  NET_CFG_MAX_VIRTQUEUE_PAIRS,
  NET_CFG_MTU,
  NET_CFG_STATUS,
  SPACE_DEVICE_CFG,
  STATUS_FAILED,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_S_LINK_UP,
  enableQueue,
  hasFeature,
  programQueue,
  readCommon,
  readDeviceStatus,
  readQueueSize,
  writeDeviceStatus,
} from "@tpdk/virtio";
import type { VirtioTransport } from "./transport.js";

/**
 * The register-level steps of device initialisation (virtio 1.2 §3.1.1),
 * each a few traps. Control path only. The sequencing, and turning a failure
 * into FAILED + an error naming the step, is VirtioPort's. Registers are
 * reached through @tpdk/virtio's driver side of the common configuration
 * (common-cfg-driver.ts: each at its width, features in two halves, a
 * queue's areas), which the device tests' TrapClient uses too.
 */

export { readDeviceFeatures, writeDriverFeatures } from "@tpdk/virtio";

export function readStatus(t: VirtioTransport): number {
  return readDeviceStatus(t);
}

/** OR `bits` into device_status (the driver never clears bits except by reset). */
export function addStatus(t: VirtioTransport, bits: number): void {
  writeDeviceStatus(t, (readStatus(t) | bits) & 0xff);
}

/** Best effort: tell the device the driver gave up. Swallows transport errors (the device may be dead). */
export function setFailed(t: VirtioTransport): void {
  try {
    addStatus(t, STATUS_FAILED);
  } catch {
    // A dead device cannot be told; the original error is what matters.
  }
}

/**
 * Reset: write 0, then wait until the device reads back 0 (§4.1.4.3.2: the
 * reset may complete asynchronously). Throws "ERESET" after `timeoutMs`.
 */
export function resetDevice(t: VirtioTransport, timeoutMs: number): void {
  writeDeviceStatus(t, 0);
  const deadline = Date.now() + timeoutMs;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const s = readStatus(t);
    if (s === 0) return;
    if (Date.now() >= deadline) {
      throw new TpdkError("ERESET", `${t.name}: device did not complete reset (status 0x${s.toString(16)} after ${timeoutMs} ms)`);
    }
    Atomics.wait(nap, 0, 0, 1);
  }
}

export interface NetConfig {
  /** The device's MAC when it offers VIRTIO_NET_F_MAC, else undefined. */
  mac: Uint8Array | undefined;
  /** Link state: config status LINK_UP under VIRTIO_NET_F_STATUS, else assumed up (§5.1.4.2). */
  linkUp: boolean;
  /** max_virtqueue_pairs under VIRTIO_NET_F_MQ, else 1. */
  maxPairs: number;
  /** mtu under VIRTIO_NET_F_MTU, else undefined. */
  mtu: number | undefined;
}

const CONFIG_GENERATION_TRIES = 16;

/**
 * Read the net device configuration consistently: re-read while
 * config_generation changes across the reads (§2.5.1; fields wider than a
 * byte could otherwise be torn). Fields are read only when their feature is
 * negotiated.
 */
export function readNetConfig(t: VirtioTransport, f: Features): NetConfig {
  for (let i = 0; i < CONFIG_GENERATION_TRIES; i++) {
    const before = readCommon(t, CC_CONFIG_GENERATION);
    let mac: Uint8Array | undefined;
    if (hasFeature(f, VIRTIO_NET_F_MAC)) {
      mac = new Uint8Array(6);
      for (let b = 0; b < 6; b++) mac[b] = t.read(SPACE_DEVICE_CFG, NET_CFG_MAC + b, 1);
    }
    const linkUp = hasFeature(f, VIRTIO_NET_F_STATUS)
      ? (t.read(SPACE_DEVICE_CFG, NET_CFG_STATUS, 2) & VIRTIO_NET_S_LINK_UP) !== 0
      : true;
    const maxPairs = hasFeature(f, VIRTIO_NET_F_MQ) ? t.read(SPACE_DEVICE_CFG, NET_CFG_MAX_VIRTQUEUE_PAIRS, 2) : 1;
    const mtu = hasFeature(f, VIRTIO_NET_F_MTU) ? t.read(SPACE_DEVICE_CFG, NET_CFG_MTU, 2) : undefined;
    const after = readCommon(t, CC_CONFIG_GENERATION);
    if (before === after) return { mac, linkUp, maxPairs, mtu };
  }
  throw new TpdkError("ECONFIG", `${t.name}: config_generation kept changing over ${CONFIG_GENERATION_TRIES} reads of the device configuration`);
}

/** Link status only (one or three traps). */
export function readLinkUp(t: VirtioTransport, f: Features): boolean {
  if (!hasFeature(f, VIRTIO_NET_F_STATUS)) return true;
  return (t.read(SPACE_DEVICE_CFG, NET_CFG_STATUS, 2) & VIRTIO_NET_S_LINK_UP) !== 0;
}

/** The device's maximum size for virtqueue `vq` (0 = the queue does not exist). */
export function queueMaxSize(t: VirtioTransport, vq: number): number {
  return readQueueSize(t, vq);
}

/**
 * Program virtqueue `vq` (§4.1.5.1.3): size, the three area addresses (each
 * u64 as two u32 halves, high 0), then enable. Returns queue_notify_off.
 */
export function setupQueue(t: VirtioTransport, vq: number, size: number, desc: number, avail: number, used: number): number {
  programQueue(t, vq, size, desc, avail, used);
  const notifyOff = readCommon(t, CC_QUEUE_NOTIFY_OFF);
  enableQueue(t);
  return notifyOff;
}

import type { Memory } from "@tpdk/eal";
import {
  AVAIL_IDX,
  CC_DEVICE_STATUS,
  COMMON_CFG_BASE,
  type Features,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  USED_IDX,
  VRING_PACKED_DESC_F_AVAIL,
  VRING_PACKED_DESC_F_USED,
} from "@tpdk/virtio";
import type { DeviceConfig } from "./config.js";
import {
  CTRL_LINK_REQUEST,
  CTRL_WIRE_EXHAUSTED,
  DEV_QINFO,
  DEV_STATS,
  QINFO_AVAIL,
  QINFO_BYTES,
  QINFO_SERVED,
  QINFO_SERVED_PACKED,
  QINFO_USED,
} from "./device/layout.js";
import { type DeviceStats, readDeviceStats } from "./device/stats.js";
import { readWireCounters } from "./wires/wire-registry.js";
import type { WireStats } from "./wires/wires.js";

/**
 * Main-thread handle of one device (returned by Vhost.addDevice). Everything
 * here reads shared memory the device thread writes; nothing blocks.
 */
export class VhostDevice {
  readonly name: string;
  /** Position among the Vhost's devices. */
  readonly index: number;
  /** Bus address of the transport region: what a driver is given to probe the device. */
  readonly transportOffset: number;
  readonly queuePairs: number;
  readonly maxQueueSize: number;
  readonly mtu: number;
  /** "aa:bb:cc:dd:ee:ff" */
  readonly mac: string;
  /** The feature bits the device offers. */
  readonly offered: Features;
  /** Resolved configuration (what the device thread builds the device from). */
  readonly config: DeviceConfig;
  private readonly mem: Memory;

  constructor(mem: Memory, config: DeviceConfig) {
    this.mem = mem;
    this.config = config;
    this.name = config.name;
    this.index = config.index;
    this.transportOffset = config.zoneOffset;
    this.queuePairs = config.queuePairs;
    this.maxQueueSize = config.maxQueueSize;
    this.mtu = config.mtu;
    this.mac = config.mac.map((b) => b.toString(16).padStart(2, "0")).join(":");
    this.offered = { lo: config.offeredLo, hi: config.offeredHi };
  }

  /** The device's counters (snapshot; see stats.ts for each name's meaning). */
  stats(): DeviceStats {
    return readDeviceStats(this.mem, this.transportOffset + DEV_STATS, this.transportOffset);
  }

  /** The wire's own counters (snapshot). */
  wireStats(): WireStats {
    return readWireCounters(this.mem, this.config.wire, this.config.wireStatsOffset);
  }

  /** device_status as the device last set it (diagnostics; drivers read it through a trap). */
  status(): number {
    return Atomics.load(this.mem.u8, this.transportOffset + COMMON_CFG_BASE + CC_DEVICE_STATUS);
  }

  /**
   * True when the wire's finite input has been wholly produced or dropped AND
   * every chain the driver made available on a served TX queue has been
   * consumed and returned (used.idx caught up with avail.idx). A device the
   * driver is not running (no DRIVER_OK, or FAILED / DEVICE_NEEDS_RESET) will
   * consume nothing more, so only the wire counts then. Lags the device thread
   * by up to ~1 ms (the exhausted flag is published by its housekeeping).
   */
  inputExhausted(): boolean {
    const mem = this.mem;
    const t = this.transportOffset;
    if (Atomics.load(mem.i32, (t + CTRL_WIRE_EXHAUSTED) >>> 2) === 0) return false;
    const st = this.status();
    if ((st & STATUS_DRIVER_OK) === 0 || (st & (STATUS_FAILED | STATUS_DEVICE_NEEDS_RESET)) !== 0) return true;
    for (let p = 0; p < this.queuePairs; p++) {
      const b = (t + DEV_QINFO + (2 * p + 1) * QINFO_BYTES) >>> 2;
      const served = Atomics.load(mem.u32, b + (QINFO_SERVED >>> 2));
      if (served === 0) continue;
      if (served === QINFO_SERVED_PACKED) {
        // Packed ring (virtio 1.2 §2.8): drained when the descriptor the device reads next is not
        // available under its wrap counter (§2.8.1). Pairs with the device's Atomics.store of the
        // position after its TX pass, and the flags' load with the driver's store of them.
        const pos = Atomics.load(mem.u32, b + (QINFO_USED >>> 2));
        const desc = mem.u32[b + (QINFO_AVAIL >>> 2)]!;
        const f = Atomics.load(mem.u16, (desc + 16 * (pos & 0x7fff) + 14) >>> 1);
        const wrap = pos >>> 15;
        if (((f & VRING_PACKED_DESC_F_AVAIL) !== 0) === (wrap !== 0) && ((f & VRING_PACKED_DESC_F_USED) !== 0) !== (wrap !== 0)) return false;
        continue;
      }
      const avail = mem.u32[b + (QINFO_AVAIL >>> 2)]!;
      const used = mem.u32[b + (QINFO_USED >>> 2)]!;
      if (Atomics.load(mem.u16, (avail + AVAIL_IDX) >>> 1) !== Atomics.load(mem.u16, (used + USED_IDX) >>> 1)) return false;
    }
    return true;
  }

  /**
   * Set the link up or down (like pulling the cable). The device thread
   * applies it within ~1 ms: updates the config status field, bumps
   * config_generation and, with STATUS negotiated and DRIVER_OK, sends a
   * configuration change notification. While down, no frames are received
   * and transmitted frames are dropped (txDropped).
   */
  setLinkUp(up: boolean): void {
    Atomics.store(this.mem.i32, (this.transportOffset + CTRL_LINK_REQUEST) >>> 2, up ? 1 : 0);
  }
}

import type { DeviceConfig } from "../config.js";
import type { Wire } from "../wires/wire.js";
import type { DemandWindow } from "./demand.js";
import type { PackedDeviceQueue } from "./packed-virtqueue.js";
import type { DeviceLink } from "./link.js";
import type { RxSteering } from "./steering.js";
import type { RxBuffers } from "./rx-buffers.js";
import type { TxBatch } from "./tx-batch.js";
import type { Chain, DeviceQueue } from "./virtqueue.js";

/**
 * What the data and control paths (rx-path.ts with rx-split.ts and
 * rx-packed.ts, tx-path.ts, ctrl-path.ts) read and
 * call on a device; NetDevice implements it. Declared here so that the
 * paths never import net-device.ts, which imports them (no circle), and so
 * a reader sees at one glance what a path depends on. The negotiated
 * state comes from DeviceState, whoever configured it (register traps
 * here; vhost-user messages for a future net_vhost back-end).
 */
export interface PathDevice {
  readonly cfg: DeviceConfig;
  readonly wire: Wire;
  /** The whole shared memory (guest buffers are addressed by bus address = offset). */
  readonly u8: Uint8Array;
  /** The same memory as 32-bit words. */
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  /** Float64 index of this device's statistics block. */
  readonly sb: number;
  readonly queues: readonly DeviceQueue[];
  /** The data queues' packed rings (when `packed`), at the same index as their registers in `queues`. */
  readonly pqueues: readonly PackedDeviceQueue[];
  readonly ctrl: DeviceQueue | null;
  /** The control queue's packed ring (when `packed`; registers in `ctrl`). */
  readonly pctrl: PackedDeviceQueue | null;
  readonly chain: Chain;
  readonly rxBufs: RxBuffers;
  /** The transmit paths' batch of simple chains (tx-batch.ts), `burst` entries. */
  readonly txBatch: TxBatch;
  /** What the transmit paths' touch of the batch's frames read (kept so the loads are not dropped). */
  touched: number;
  readonly burst: number;
  readonly rxScratch: number;
  readonly demand: DemandWindow;
  readonly onDemand: boolean;
  // Negotiated state (DeviceState), read per pass.
  readonly active: boolean;
  readonly link: DeviceLink;
  readonly hdrSize: number;
  readonly mrg: boolean;
  readonly inOrder: boolean;
  /** VIRTIO_F_RING_PACKED negotiated: every queue is a packed ring. */
  readonly packed: boolean;
  readonly rxMaxFrame: number;
  /** The receive queues frames are steered over, and the RX filter state (steering.ts). */
  readonly steering: RxSteering;
  count(slot: number): void;
  needsReset(slot: number): void;
  interrupt(q: DeviceQueue): void;
  hasDriverFeature(bit: number): boolean;
  setQueuePairs(n: number): void;
  /** VIRTIO_NET_CTRL_MAC_ADDR_SET: the 6 bytes at bytes[off ..] become the config MAC. */
  setMac(bytes: Uint8Array, off: number): void;
}

import type { Mempool } from "@tpdk/mbuf";
import type { TxMode, VirtioPmdOptions } from "./options.js";
import type { VirtioTransport } from "./transport.js";

/** The ethdev API's argument and result types (port.ts). */

export interface ProbeArgs {
  /** ethdev port id, 0..PMD_MAX_PORTS-1. */
  portId: number;
  /** For messages, e.g. "virtio0". Default "virtio<portId>". */
  name?: string;
  /** Byte offset of the device's transport region in EAL memory (the real, trap-based transport). */
  transportOffset?: number;
  /** Or a transport object (tests: InProcessTransport). Wins over transportOffset. */
  transport?: VirtioTransport;
  options?: VirtioPmdOptions;
}

export interface RxQueueConf {
  /** Descriptors; default the port's queue_size. Capped at the device's maximum. */
  nbDesc?: number;
  /** The mempool RX buffers come from (or its name). */
  pool: Mempool | string;
}

export interface TxQueueConf {
  nbDesc?: number;
  /** Reclaim used descriptors when fewer than this many are free. Default min(Q/4, 32). */
  txFreeThresh?: number;
}

/** What start() returns, so the app can print "Port N, MAC address: ..." as DPDK does. */
export interface PortInfo {
  portId: number;
  name: string;
  mac: Uint8Array;
  /** "02:70:64:6b:00:00" */
  macString: string;
  linkUp: boolean;
  mtu: number;
  features: string[];
  hdrSize: number;
  rxQueueSizes: number[];
  txQueueSizes: number[];
  txMode: TxMode;
}

export interface LinkStatus {
  up: boolean;
  /** Mb/s; virtio reports no speed without VIRTIO_NET_F_SPEED_DUPLEX, DPDK then says 10G. */
  speed: number;
  duplex: "full";
}

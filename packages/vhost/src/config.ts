import type { DeviceWireSpec } from "./wires/wire-registry.js";

/**
 * Everything the device thread needs to build one device, resolved and
 * validated on the main thread (structured-cloneable: it travels in workerData).
 */
export interface DeviceConfig {
  readonly name: string;
  readonly index: number;
  /** Byte offset of the device zone = the transport region. */
  readonly zoneOffset: number;
  readonly scratchOffset: number;
  readonly wireStatsOffset: number;
  readonly queuePairs: number;
  readonly maxQueueSize: number;
  readonly mtu: number;
  readonly mac: readonly number[];
  /** Offered features, bits 0..31 and 32..63. */
  readonly offeredLo: number;
  readonly offeredHi: number;
  /** Most frames (RX) or chains (TX) handled per queue per pass. */
  readonly burst: number;
  readonly wire: DeviceWireSpec;
}

/** The device thread's configuration (structured-cloneable). */
export interface LoopConfig {
  readonly ctlOffset: number;
  /** Lowest address a driver may hand the device: the first byte after the EAL header. */
  readonly memLo: number;
  readonly busyPoll: boolean;
  /** Empty passes before the thread prepares to sleep. */
  readonly spinPasses: number;
  /** Longest sleep on the doorbell, ms (also bounds heartbeat and trap latency while idle). */
  readonly maxSleepMs: number;
  /** Devices deliver received frames only once the EAL's lcores have launched (VhostOptions.rxAfterLaunch). */
  readonly rxAfterLaunch: boolean;
  /** CPU to pin the thread to, -1 = do not pin. */
  readonly cpu: number;
  readonly devices: readonly DeviceConfig[];
}

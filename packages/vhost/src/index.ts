export { DEFAULT_MAX_QUEUE_SIZE, Vhost, type VhostOptions, type DeviceOptions, type VhostStartInfo } from "./vhost.js";
export { VhostDevice } from "./vhost-device.js";
export { DeviceLoop } from "./device-loop.js";
export type { DeviceConfig, LoopConfig } from "./config.js";
export { OFFERABLE_FEATURES, type FeatureName, offeredFeatures } from "./device/offer.js";
export { DEVICE_STAT_NAMES, type DeviceStatName, type DeviceStats, readDeviceStats } from "./device/stats.js";
export {
  CTL_DOORBELL, CTL_STOP, CTL_STATE, CTL_PASSES, THREAD_CREATED, THREAD_RUNNING, THREAD_STOPPED, THREAD_FAILED,
  DEV_ZONE_BYTES, MAX_FRAME, SCRATCH_BYTES,
} from "./device/layout.js";
export type { Wire } from "./wires/wire.js";
export { type DeviceWireSpec, type RegisteredWireSpec, type WireKindHooks, registerWireKind } from "./wires/wire-registry.js";
export * from "./wires/wires.js";
export { deviceClock } from "./clock.js";

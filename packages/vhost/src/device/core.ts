/**
 * The device core's queue walk, for transports other than the built-in
 * register traps (`@tpdk/vhost/device`): net_vhost configures the same
 * validated split and packed queues from vhost-user messages and reads the
 * front-end's memory through a GuestMemory region table. What the queues
 * return is the device's: S_ERR_* counter slots (stats.ts), WALK_FULL,
 * PWALK_BROKEN. Nothing here starts a thread or knows a wire.
 */
export { GUEST_MAX_REGIONS, GuestMemory, type GuestRegion, type GuestViews } from "./guest-memory.js";
export { Chain, DeviceQueue, WALK_FULL } from "./virtqueue.js";
export { PWALK_BROKEN, PackedDeviceQueue } from "./packed-virtqueue.js";
export {
  DEVICE_STAT_SLOTS, S_ERR_ADDR_HIGH, S_ERR_ADDR_RANGE, S_ERR_CHAIN_LENGTH, S_ERR_DESC_ORDER, S_ERR_HEAD_INDEX, S_ERR_INDIRECT_FEATURE,
  S_ERR_INDIRECT_NESTED, S_ERR_INDIRECT_NEXT, S_ERR_INDIRECT_TABLE, S_ERR_NEXT_INDEX,
} from "./stats.js";

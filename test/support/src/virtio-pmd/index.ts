/** Test helpers: a fake virtio-net device answering the driver's register traps in process, and a rig built on it. Not for production. */
export {
  FakeNetDevice, type FakeDeviceOptions, type FakeQueue, type CtrlCommand, type Seg, type Chain,
} from "./fake-device.js";
export { ALL_FEATURES, rig, txBoundRig, frame, toMbuf, fromMbuf, type FakePort, type Rig, type RigOptions } from "./harness.js";
export { MQ_FEATURES, mqPort, setUpQueues } from "./mq-port.js";
export {
  packedRig, frameOf, writeHonestUsed, type PackedRig, packedDriverScenarioArb, type PackedDriverScenario, runPackedDriverScenario,
  type PackedDriverStats, newPackedDriverStats,
} from "./packed-rig.js";
export { storeBufferModel } from "./store-buffer-model.js";
export { recordStoreOrder, linesBeforeRepeat } from "./store-order.js";
export {
  RIG_URL, VHOST_RIG_URL, DATA_PATH, dataPathDeopts,
} from "./trace-child.js";

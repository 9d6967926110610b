export { type VdevPlan, type BuiltinPlan, type VirtioUserPlan, VDEV_KINDS, needsSharedMemory, planVdevs } from "./plan.js";
export { VdevPorts, type VdevStartOptions, type PortLinkListener } from "./ports.js";
export { deviceFailureText } from "./failure.js";

export { type VdevPlan, type BuiltinPlan, type VirtioUserPlan, type NetVhostPlan, VDEV_KINDS, needsSharedMemory, planVdevs } from "./plan.js";
export { VdevPorts, type VdevStartOptions, type PortLinkListener, type EthPort } from "./ports.js";
export { deviceFailureText } from "./failure.js";
export { type VdevKindHelp, registerVdevKindHelp, vdevKindsUsage } from "./kinds.js";

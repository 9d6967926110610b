export { type VdevPlan, type BuiltinPlan, type VirtioUserPlan, type NetVhostPlan, needsSharedMemory, planVdevs } from "./plan.js";
export { VdevPorts, type VdevStartOptions, type PortLinkListener, type EthPort } from "./ports.js";
export { deviceFailureText } from "./failure.js";
export { type VdevKindHelp, VDEV_KINDS, registerVdevKindHelp, vdevKindsUsage } from "./kinds.js";

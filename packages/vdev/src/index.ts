export { type VdevPlan, planVdevs } from "./plan.js";
export { VdevPorts, type VdevStartOptions } from "./ports.js";
export { deviceFailureText } from "./failure.js";

export * from "./features.js";
export * from "./status.js";
export * from "./split-ring.js";
export * from "./packed-ring.js";
export * from "./net.js";
export * from "./net-ctrl.js";
export * from "./transport.js";
export * from "./feature-sets.js";

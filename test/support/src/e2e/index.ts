/** Helpers of the cross-thread and end-to-end tests in test/. */
export * from "./inthread.js";
export * from "./l2fwd.js";
export * from "./netns.js";
export * from "./ports.js";
export * from "./udp.js";
export * from "./dist-url.js";
export * from "./varied-frames.js";
export * from "./testpmd.js";
export * from "./fake-vhost-backend.js";
export * from "./hostile-frontend.js";
export * from "./qemu-guest.js";
export * from "./peer-session.js";
export * from "./owned.js";
export * from "./net-vhost-scenario.js";

import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_QUEUE_SIZE } from "@tpdk/vhost";
import { deviceMaxQueueSize } from "./ports.js";

describe("built-in device queue size", () => {
  it("offers what queue_size= asks when it is above the default maximum (a power of two at least)", () => {
    expect(deviceMaxQueueSize(undefined)).toBe(DEFAULT_MAX_QUEUE_SIZE);
    expect(deviceMaxQueueSize(256)).toBe(DEFAULT_MAX_QUEUE_SIZE);
    expect(deviceMaxQueueSize(DEFAULT_MAX_QUEUE_SIZE)).toBe(DEFAULT_MAX_QUEUE_SIZE);
    expect(deviceMaxQueueSize(8192)).toBe(8192);
    expect(deviceMaxQueueSize(32768)).toBe(32768);
    // packed_vq=1 takes any size: the device's maximum is the next power of two
    expect(deviceMaxQueueSize(5000)).toBe(8192);
  });
});

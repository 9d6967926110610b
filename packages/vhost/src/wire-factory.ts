import type { Memory } from "@tpdk/eal";
import { TpdkError } from "@tpdk/eal";
import { TestWire, type TestWireSpec } from "./test-wire.js";
import type { Wire } from "./wire.js";

/**
 * What a device can be attached to: the test wire (this package's tests) or
 * one of the real wires. Structured-cloneable: it travels to the device thread.
 */
export type DeviceWireSpec = TestWireSpec | { readonly kind: string };

/** Bytes reserved for a wire's statistics block. */
export const DEVICE_WIRE_STATS_BYTES = 256;

/** Build the live wire on the device thread (cold). */
export function makeWire(spec: DeviceWireSpec, mem: Memory, _statsOffset: number): Wire {
  if (spec.kind === "test") return new TestWire(spec as TestWireSpec, mem);
  throw new TpdkError("EINVAL", `wire kind "${spec.kind}" is not available`);
}

/** The wire's counters (any thread, cold). */
export function readWireCounters(_mem: Memory, _spec: DeviceWireSpec, _statsOffset: number): Record<string, number> {
  return {};
}

import type { Memory } from "@tpdk/eal";
import { TestWire, type TestWireSpec, readTestWire } from "./test-wire.js";
import type { Wire } from "./wire.js";
import { WIRE_STATS_BYTES, type WireSpec, type WireStats, createWire, readWireStats } from "./wires.js";

/**
 * What a device can be attached to: one of the real wires (WireSpec, from
 * parseWireSpec) or the test wire of this package's tests. Plain data: it
 * travels to the device thread.
 */
export type DeviceWireSpec = WireSpec | TestWireSpec;

/** Bytes reserved per device for its wire's statistics block. */
export const DEVICE_WIRE_STATS_BYTES = WIRE_STATS_BYTES;

/** Build the live wire on the device thread (cold). */
export function makeWire(spec: DeviceWireSpec, mem: Memory, statsOffset: number, deviceIndex: number): Wire {
  if (spec.kind === "test") return new TestWire(spec, mem);
  return createWire(spec, mem, statsOffset, deviceIndex);
}

/** The wire's counters (any thread, cold). The test wire reports its own counts in the same shape. */
export function readWireCounters(mem: Memory, spec: DeviceWireSpec, statsOffset: number): WireStats {
  if (spec.kind !== "test") return readWireStats(mem, statsOffset);
  const r = readTestWire(mem, spec.recordOffset);
  return {
    kind: "none",
    generated: r.produced + r.missed,
    generatedBytes: 0,
    missed: r.missed,
    received: r.consumed,
    receivedBytes: 0,
    lost: 0,
    reordered: 0,
    duplicated: 0,
    badChecksum: 0,
    foreign: 0,
    writeErrors: 0,
    lastWriteError: null,
    untracked: 0,
    exhausted: r.remaining === 0,
    overflow: 0,
    datagramsIn: 0,
    datagramsOut: 0,
    badVxlan: 0,
    badLength: 0,
    sendDropped: 0,
  };
}

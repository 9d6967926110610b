import { type Memory, TpdkError } from "@tpdk/eal";
import type { Wire } from "./wire.js";
import { WIRE_STATS_BYTES, type WireSpec, type WireStats, createWire, readWireStats } from "./wires.js";

/**
 * A wire this package does not know: a kind registered by another module
 * (tests: @tpdk/testing's test wire). `module` is that module's URL: the
 * device thread imports it before it builds its devices, and the import
 * registers the kind (registerWireKind). Plain data: it travels to the thread.
 */
export interface RegisteredWireSpec {
  readonly kind: "registered";
  /** The name the module registered (registerWireKind). */
  readonly type: string;
  /** URL of the module that registers `type` when imported (any thread). */
  readonly module: string;
}

/** What a device can be attached to: one of this package's wires (parseWireSpec) or a registered one. */
export type DeviceWireSpec = WireSpec | RegisteredWireSpec;

/** How a registered wire kind is built (device thread) and read (any thread); both cold. */
export interface WireKindHooks<S extends RegisteredWireSpec = RegisteredWireSpec> {
  create(spec: S, mem: Memory, statsOffset: number, deviceIndex: number): Wire;
  /** The wire's counters in the shape of the built-in ones. */
  stats(mem: Memory, spec: S, statsOffset: number): WireStats;
}

/** Bytes reserved per device for its wire's statistics block. */
export const DEVICE_WIRE_STATS_BYTES = WIRE_STATS_BYTES;

const registered = new Map<string, WireKindHooks>();

/** Register a wire kind in this thread (call at module top level: every thread that imports the module registers it). */
export function registerWireKind<S extends RegisteredWireSpec>(type: string, hooks: WireKindHooks<S>): void {
  registered.set(type, hooks as unknown as WireKindHooks);
}

/** Import the modules of registered wire kinds this thread does not know yet (device thread, cold). */
export async function loadWireKinds(specs: readonly DeviceWireSpec[]): Promise<void> {
  for (const s of specs) {
    if (s.kind === "registered" && !registered.has(s.type)) await import(s.module);
  }
}

function hooksOf(spec: RegisteredWireSpec): WireKindHooks {
  const h = registered.get(spec.type);
  if (!h) throw new TpdkError("EINVAL", `wire type ${spec.type} is not registered in this thread (import ${spec.module} first)`);
  return h;
}

/** Build the live wire on the device thread (cold). */
export function makeWire(spec: DeviceWireSpec, mem: Memory, statsOffset: number, deviceIndex: number): Wire {
  if (spec.kind === "registered") return hooksOf(spec).create(spec, mem, statsOffset, deviceIndex);
  return createWire(spec, mem, statsOffset, deviceIndex);
}

/** The wire's counters (any thread, cold). */
export function readWireCounters(mem: Memory, spec: DeviceWireSpec, statsOffset: number): WireStats {
  if (spec.kind === "registered") return hooksOf(spec).stats(mem, spec, statsOffset);
  return readWireStats(mem, statsOffset);
}

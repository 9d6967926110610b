/**
 * Source for the start of a child script (`runChild`, an ES module) that drives a device loop by
 * hand over the latency runs' wires: a Vhost with a paced generator that timestamps its frames
 * (rate=1M, timestamp=1) and a latency sink, so every pass reads the clock and every tick paces
 * the generator. Defines PerformanceObserver (for GC_WINDOW_JS), getHeapSpaceStatistics (for YOUNG_HEAP_JS), Memory, Vhost,
 * parseWireSpec, mem, vhost and loop (vhost.createLoop(); the script closes it). Shared by the
 * device loop's allocation tests (device-clock-alloc, device-tick-alloc).
 */
export const PACED_LATENCY_LOOP_PREAMBLE = `
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { Memory } from "@tpdk/eal";
import { Vhost, parseWireSpec } from "@tpdk/vhost";
const mem = Memory.create(32 << 20);
const vhost = new Vhost(mem);
vhost.addDevice({ name: "virtio0", wire: parseWireSpec("virtio0", new Map([["wire", "gen"], ["rate", "1M"], ["timestamp", "1"]])) });
vhost.addDevice({ name: "virtio1", wire: parseWireSpec("virtio1", new Map([["wire", "sink"], ["latency", "1"]])) });
const loop = vhost.createLoop();
`;

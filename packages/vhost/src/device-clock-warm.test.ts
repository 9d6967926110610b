import { describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild, YOUNG_HEAP_JS, YOUNG_WINDOW_LIMIT } from "@tpdk/testing/child";

/**
 * The device thread's clock read as a throughput run makes it: from spin(), every ~0.2-0.5 ms
 * (CLOCK_BUDGET), through eal's storeClockMs(), which is never inlined and so is optimized only on
 * its own, after 16,000-22,000 calls: 4-11 s at that rate. Until then it ran in baseline code and
 * boxed clockMs()'s reading, 16 B a read: 40-90 KB/s of device-thread garbage through a pipeline
 * run's window (bench/notes/gc.md "Session 25: GC"). DeviceLoop.open() (the device thread calls it
 * before it reports ready) now warms it. Here a loop with a throughput run's wires (an unpaced
 * generator, a sink) is opened, the young space emptied, and 20,000 reads made as spin() makes them (a call
 * from an optimized loop): they must add under YOUNG_WINDOW_LIMIT (16 KB) to the young generation and see no GC (main: 16 B or
 * more a read, over 320 KB, or a scavenge; Node 26 before session 33's clock: 32 B a read). The young
 * generation, not the whole heap: under Node 26 (V8 14) the window's own loop is compiled on-stack inside
 * the window, 8-12 KB of code in old/code/trusted space (YOUNG_HEAP_JS). The window is test/support's
 * gcWindow with one attempt, as eal's clock.test: not retried, since retried windows would run the function
 * past its tier-up. Prints { gcs, young, heap, reads } (heap: the whole heap's growth, for the record).
 */
const script = `
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";
import { Memory, storeClockMs } from "@tpdk/eal";
import { Vhost, parseWireSpec, deviceClock } from "@tpdk/vhost";
const mem = Memory.create(32 << 20);
const vhost = new Vhost(mem);
vhost.addDevice({ name: "virtio0", wire: parseWireSpec("virtio0", new Map([["wire", "gen"]])) });
vhost.addDevice({ name: "virtio1", wire: parseWireSpec("virtio1", new Map([["wire", "sink"]])) });
const loop = vhost.createLoop();
await loop.open();
const READS = 20_000;
function readAll(n) { for (let i = 0; i < n; i++) storeClockMs(deviceClock); }
${YOUNG_HEAP_JS}
${GC_WINDOW_JS}
// gcWindow starts the window after a full collection (this child has --expose-gc): it empties the
// young space of the start-up's garbage (so the window's own reads cannot fill it) and frees old
// space's, whose absence let a compile on a background thread inside the window fail to allocate and
// request one (--trace-gc: "Mark-Compact ... background allocation failure; GC in old space
// requested", 1 of 24 loaded Node 26 runs after a scavenge alone, the gcs 1 / young -51 KB / heap
// -760 KB of two CI runs; 0 of 60 after gc()).
// One window (attempts 1): a second would measure reads past the first 20,000.
const { gcs, value: { young, heap } } = await gcWindow(() => {
  const heap0 = getHeapStatistics().used_heap_size;
  const young0 = youngHeapUsed();
  readAll(READS);
  const young = youngHeapUsed() - young0;
  return { young, heap: getHeapStatistics().used_heap_size - heap0 };
}, () => true, 1);
loop.close();
console.log(JSON.stringify({ gcs, young, heap, reads: READS }));
`;

describe("the device loop's clock read in a throughput run", () => {
  it("is warmed by open(): the first 20,000 reads allocate under 16 KB (none per read), no GC (a child process)", async () => {
    const r = await runChild(script, ["--expose-gc", "--no-memory-reducer"], 60_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gcs: number; young: number; heap: number; reads: number };
    expect(out.reads).toBe(20_000);
    expect(out.gcs, JSON.stringify(out)).toBe(0);
    expect(out.young, JSON.stringify(out)).toBeLessThan(YOUNG_WINDOW_LIMIT);
  }, 60_000);
});

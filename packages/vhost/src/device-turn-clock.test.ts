import { describe, expect, it } from "vitest";
import { runChild, V8_TIERS_JS } from "@tpdk/testing/child";

/**
 * The device loop's clock read once per event-loop turn, as a thread with a udp wire runs it
 * (DeviceLoop.runAsync; udp wires are plain node:dgram, no addon). runAsync() is an async function
 * called once, so it is never optimized, and nextYield(), called once per turn (1-20 k a second),
 * is optimized only after seconds to minutes: kept unoptimized here with natives syntax. Until
 * session 26 runAsync passed clockMs() to nextYield(), which added the period to it: 16 B for
 * clockMs()'s boxed return and 16 B for the sum, per turn. The turn's own garbage (a promise, an
 * Immediate) is Node's and cannot be told apart by the heap's size, so the heap is sampled (V8's
 * sampling heap profiler, a sample every ~32 B allocated, collected objects included) over a
 * window of 400 turns of runAsync() (busy polling, a quiet socket). Samples in the clock's
 * functions (clockMs, process.hrtime, storeClockMs, nextYield) must be fewer than a tenth of the
 * turns. The window is a number of turns, not a time: until session 28 it was 1 s, ~1000 turns
 * alone but 87-101 with CPU hogs at autogroup -10 (3 of 3 runs under the 200 it required). Main: about one a turn (32 B a turn at a sample per 32 B). Not zero: the read after the
 * loop stops may be sampled, and a concurrent compile finishing in the window installs its code
 * (some objects of 50-1,400 B) from whichever function's stack check is on top, storeClockMs()
 * often (seen as 1-15 samples). Prints { clockSamples, clockBytes, byFunction, turns, allBytes }.
 */
const script = `
import { Session } from "node:inspector/promises";
import * as dgram from "node:dgram";
import { Memory } from "@tpdk/eal";
import { CTL_STOP, Vhost, parseWireSpec } from "@tpdk/vhost";
const freePort = async () => {
  const s = dgram.createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
};
const mem = Memory.create(32 << 20);
const vhost = new Vhost(mem, { busyPoll: true });
const local = await freePort();
const remote = await freePort();
vhost.addDevice({ name: "virtio0", wire: parseWireSpec("virtio0", new Map([["wire", "udp"], ["local", "127.0.0.1:" + local], ["remote", "127.0.0.1:" + remote]])) });
const loop = vhost.createLoop();
%NeverOptimizeFunction(Object.getPrototypeOf(loop).nextYield);
await loop.open();
const stopI = (vhost.loopConfig().ctlOffset + CTL_STOP) >>> 2;
let turns = 0;
let counting = false;
// A window of n turns (the loop stopped by the n-th), not of a time: the turns a second depend on
// the machine's load (the process's share of a CPU), the check is per turn. maxMs: a backstop.
async function runTurns(n, maxMs) {
  Atomics.store(mem.i32, stopI, 0);
  const stop = () => { counting = false; Atomics.store(mem.i32, stopI, 1); };
  const backstop = setTimeout(stop, maxMs);
  counting = true;
  turns = 0;
  const countTurn = () => { if (!counting) return; if (++turns >= n) { clearTimeout(backstop); stop(); } else setImmediate(countTurn); };
  setImmediate(countTurn);
  await loop.runAsync();
}
// Backstops: the turns come ~1000 a second alone, ~90-100 with CPU hogs at autogroup -10.
await runTurns(200, 15_000); // past the first calls of everything on the turn's path
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await runTurns(400, 40_000);
const { profile } = await session.post("HeapProfiler.getSamplingProfile");
await session.post("HeapProfiler.stopSampling");
loop.close();
const nodes = new Map();
(function walk(n) { nodes.set(n.id, n); for (const c of n.children) walk(c); })(profile.head);
const CLOCK = new Set(["clockMs", "hrtime", "storeClockMs", "nextYield"]);
const byFunction = {};
let clockBytes = 0;
let clockSamples = 0;
let allBytes = 0;
for (const s of profile.samples) {
  const name = nodes.get(s.nodeId).callFrame.functionName;
  allBytes += s.size;
  if (!CLOCK.has(name)) continue;
  clockBytes += s.size;
  clockSamples++;
  byFunction[name] = (byFunction[name] ?? 0) + s.size;
}
${V8_TIERS_JS}
const nextYieldUnoptimized = !isOptimized(Object.getPrototypeOf(loop).nextYield);
console.log(JSON.stringify({ clockSamples, clockBytes, byFunction, turns, allBytes, nextYieldUnoptimized }));
`;

describe("the device loop's clock read per event-loop turn (runAsync, udp wires)", () => {
  it("allocates nothing: fewer heap samples in the clock's functions than a tenth of the turns, over 400 turns (a child process)", async () => {
    // 90 s: the child (start-up, warm-up, 200 + 400 turns) took 10.4-10.6 s with CPU hogs at autogroup -10.
    const r = await runChild(script, ["--allow-natives-syntax"], 90_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
      clockSamples: number; clockBytes: number; byFunction: Record<string, number>; turns: number; allBytes: number; nextYieldUnoptimized: boolean;
    };
    console.log(`runAsync turn clock: ${JSON.stringify(out)}`);
    expect(out.nextYieldUnoptimized).toBe(true);
    // The window ran its 400 turns (not ended by its backstop) and the profiler saw their garbage.
    expect(out.turns).toBe(400);
    expect(out.allBytes).toBeGreaterThan(20_000);
    expect(out.clockSamples, JSON.stringify(out.byFunction)).toBeLessThan(out.turns / 10);
  }, 90_000);
});

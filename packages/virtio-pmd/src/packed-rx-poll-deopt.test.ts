import { describe, expect, it } from "vitest";
import { doneCounts, optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, dataPathDeopts } from "@tpdk/testing/virtio-pmd";

/** The IN_ORDER pass a burst takes: takeAhead below four (batch-ahead, rxSmall), rxInOrder from four on. */
const inOrderPath = (burst: number): string => (burst < 4 ? "takeAhead" : "rxInOrder");

/** Both scripts' ring: packed, 256 entries, IN_ORDER; `use` writes used descriptors as an honest device. */
const RIG = `
const { packedRig, writeHonestUsed } = await import(${JSON.stringify(RIG_URL)});
const r = packedRig(256, []);
if (!r.info.features.includes("IN_ORDER")) throw new Error("IN_ORDER not negotiated");
const zone = r.zoneOf(false);
const cur = [0, 1];
const arr = new Uint32Array(64);`;

/**
 * The regimes' and switches' device and driver on RIG: `use` writes used descriptors (counted in `used`),
 * `poll(burst)` takes and frees one burst (counted in `taken`), `drain(burst)` takes all that was used and
 * then finds the ring empty.
 */
const COUNTED = `${RIG}
let used = 0;
let taken = 0;
function use(n) {
  for (let i = 0; i < n; i++) writeHonestUsed(r.mem, zone, 256, cur, false, 60);
  used += n;
}
function poll(burst) {
  const k = r.rxq.rxBurst(arr, burst);
  for (let j = 0; j < k; j++) r.mbufs.free(arr[j]);
  taken += k;
  return k;
}
function drain(burst) {
  while (taken < used) if (poll(burst) === 0) throw new Error("received " + taken + " of " + used);
  if (poll(burst) !== 0) throw new Error("received more than " + used);
}`;

/**
 * Packed ring, IN_ORDER, 60 B frames: the device uses RX descriptors one group of four per round (as
 * a back-end that keeps just ahead of the driver does) while rxBurst runs at burst `burst` until
 * rxInOrder is optimized; then, "3+1": three of each group first, so the batch check sees three flags
 * used and the fourth not, and the fourth a round later; or "8": two groups per round, so a call
 * checks a second group. Each round the driver takes what was used, frees it, and polls the empty ring
once more, as a busy-polling lcore does between frames.
 */
const script = (burst: number, partial: "3+1" | "8"): string => `
${RIG}
let sent = 0;
function use(n) {
  for (let i = 0; i < n; i++) writeHonestUsed(r.mem, zone, 256, cur, false, 60);
}
function take(want) {
  let got = 0;
  while (got < want) {
    const k = r.rxq.rxBurst(arr, ${burst});
    if (k === 0) throw new Error("received " + got + " of " + want);
    for (let j = 0; j < k; j++) r.mbufs.free(arr[j]);
    got += k;
  }
  if (got !== want) throw new Error("received " + got + " of " + want);
  // The busy-polling lcore then finds the ring empty (the one-descriptor poll, not polled yet).
  if (r.rxq.rxBurst(arr, ${burst}) !== 0) throw new Error("received more than " + want);
  sent += got;
}
for (let i = 0; i < 20000; i++) { use(4); take(4); }
console.log("=== partial");
for (let i = 0; i < 2000; i++) {
  if (${JSON.stringify(partial)} === "8") { use(8); take(8); } else { use(3); take(3); use(1); take(1); }
}
console.log("=== done sent " + sent + " dropped " + r.port.stats().ierrors);
`;

/**
 * The one-descriptor read after a batch check that saw three of four flags used was a ternary arm
 * (a plain load once the call had polled, else Atomics.load): at burst 1 it runs only in that state,
 * which a device filling whole groups never makes during the warm-up, and its first run deoptimized
 * rxInOrder ("Insufficient type feedback for binary operation"; 3 of 54 traced packed burst-1 bench
 * runs, bench README "Session 26: GC"). The batch check's fourth flag was read the same way (a plain
 * arm reached only from a call's second group). Both loaded plainly every time and polled with
 * Atomics.load only on the call's first read (session 27); since session 29 one check serves both,
 * the first flags so read, a group's other three after them.
 */
describe("packed RX: a group of four used three at a time after the warm-up", () => {
  it.each([
    [1, "3+1"],
    [4, "3+1"],
    [8, "8"],
  ] as const)("at burst %i, then %s a round: deoptimizes nothing on the data path, every frame received", async (burst, partial) => {
    const { before, after } = await tracePhases(script(burst, partial), ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "partial");
    expect(doneCounts(after)).toEqual({ sent: 20000 * 4 + 2000 * (partial === "8" ? 8 : 4), dropped: 0 });
    expect(optimized(before, inOrderPath(burst))).toBe(true);
    expect(dataPathDeopts(after)).toEqual([]);
  }, 60_000);
});

/**
 * The same ring at burst `burst` in one regime until rxInOrder and rxBurst are optimized, then in the
 * other. "full": the device keeps 64 descriptors used ahead of the driver from the start (DPDK's
 * flowgen keeps the ring full), so every check finds a whole group and the driver never finds the
 * ring empty; then the device stops, the driver catches up and polls the empty ring, and frames come
 * one at a time. "backlog": four frames a round, all taken, and an empty poll (a driver faster than
 * its device: rxBurst's touched lead never exceeds what rxInOrder takes); then two bursts' worth at
 * once.
 */
const regimes = (burst: number, mode: "full" | "backlog"): string => `
${COUNTED}
if (${JSON.stringify(mode)} === "full") {
  for (let i = 0; i < 30000; i++) {
    use(64 - (used - taken));
    if (poll(${burst}) === 0) throw new Error("nothing from a full ring");
  }
  console.log("=== other");
  drain(${burst});
  for (let i = 0; i < 2000; i++) { use(1); drain(${burst}); }
} else {
  for (let i = 0; i < 30000; i++) { use(4); drain(${burst}); }
  console.log("=== other");
  for (let i = 0; i < 2000; i++) { use(${2 * burst}); drain(${burst}); }
}
console.log("=== done sent " + taken + " dropped " + r.port.stats().ierrors);
`;

/**
 * Code that runs in one of the two regimes only has no type feedback when TurboFan compiles it in the
 * other, and its first run then deoptimizes. Under a full ring the one-descriptor check never ran
 * (the group check always saw four used), so catching up deoptimized rxInOrder at its first
 * arithmetic (`h0 + 7`, then in packed-rxq.js, now packed-rx-in-order.js; in the warm-up of traced
 * bench runs: bench README "Session 29: the packed RX poll deopt"); a driver that keeps up never
 * took fewer than it had touched, so rxBurst's `lead - nrx` had no feedback and the first backlog
 * deoptimized rxBurst. One check shape now serves one descriptor and a group, and the lead's
 * updates subtract on every call.
 */
describe("packed RX: warm-up in one regime, then the other", () => {
  it.each([
    [1, "full"],
    [32, "full"],
    [32, "backlog"],
  ] as const)("at burst %i, %s first: deoptimizes nothing on the data path, every frame received", async (burst, mode) => {
    const { before, after } = await tracePhases(regimes(burst, mode), ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "other");
    // "full": 64 used at first, then each round's burst again but the last's; then 2000 one at a time.
    const sent = mode === "full" ? 64 + 29999 * burst + 2000 : 30000 * 4 + 2000 * 2 * burst;
    expect(optimized(before, inOrderPath(burst))).toBe(true);
    expect(optimized(before, "rxBurst")).toBe(true);
    expect(dataPathDeopts(after)).toEqual([]);
    expect(doneCounts(after)).toEqual({ sent, dropped: 0 });
  }, 60_000);
});

/**
 * Batch-ahead (bursts of fewer than four take a whole group, rxSmall / takeAhead) beside rxInOrder's
 * longer bursts (bench/notes/packed-front-end.md "Session 36: batch-ahead beside burst 32's path"): the
 * ring warmed with `warm` used a round at burst `first` until the bursts are optimized, then `then` used a
 * round, one burst of `pre` first (frames ahead when `pre` < 4 took a group), the rest at burst `second`.
 * "1 x 1 -> 1 x 4": a device that delivers one frame at a time in the warm-up (no group, nothing ever
 * ahead), then groups: the frames ahead first kept then.
 */
const switched = (first: number, warm: number, pre: number, second: number, then: number): string => `
${COUNTED}
for (let i = 0; i < 30000; i++) { use(${warm}); drain(${first}); }
console.log("=== other");
for (let i = 0; i < 2000; i++) { use(${then}); if (poll(${pre}) === 0) throw new Error("nothing"); drain(${second}); }
console.log("=== done sent " + taken + " dropped " + r.port.stats().ierrors);
`;

describe("packed RX: batch-ahead beside the longer bursts", () => {
  it.each([
    [1, 1, 1, 1, 4],
    [32, 8, 1, 32, 8],
    [32, 8, 1, 1, 8],
  ] as const)("warm-up at burst %i, %i a round; then a burst of %i and bursts of %i, %i a round: deoptimizes nothing on the data path", async (first, warm, pre, second, then) => {
    const { before, after } = await tracePhases(switched(first, warm, pre, second, then), ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "other");
    expect(optimized(before, "rxBurst")).toBe(true);
    expect(dataPathDeopts(after)).toEqual([]);
    expect(doneCounts(after)).toEqual({ sent: 30000 * warm + 2000 * then, dropped: 0 });
  }, 60_000);

  // The one switch not primed (rxBurst's longer-burst path never runs at burst 1; priming it would
  // change the refills of a burst-1 start): rxBurst deoptimizes once, nothing else does.
  it("warm-up at burst 1, 4 a round; then a burst of 1 and bursts of 32, 8 a round: deoptimizes rxBurst once at most, nothing else on the data path", async () => {
    const { before, after } = await tracePhases(switched(1, 4, 1, 32, 8), ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "other");
    expect(optimized(before, "rxBurst")).toBe(true);
    const deopts = dataPathDeopts(after);
    expect(deopts.filter((l) => !/<JSFunction rxBurst\b/.test(l))).toEqual([]);
    expect(deopts.length).toBeLessThanOrEqual(1);
    expect(doneCounts(after)).toEqual({ sent: 30000 * 4 + 2000 * 8, dropped: 0 });
  }, 60_000);
});

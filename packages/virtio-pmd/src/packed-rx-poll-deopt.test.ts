import { describe, expect, it } from "vitest";
import { doneCounts, optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, dataPathDeopts } from "@tpdk/testing/virtio-pmd";

/**
 * Packed ring, IN_ORDER, 60 B frames: the device uses RX descriptors one group of four per round (as
 * a back-end that keeps just ahead of the driver does) while rxBurst runs at burst `burst` until
 * rxInOrder is optimized; then, "3+1": three of each group first, so the batch check sees three flags
 * used and the fourth not, and the fourth a round later; or "8": two groups per round, so a call
 * checks a second group. Each round the driver takes what was used, frees it, and polls the empty ring
once more, as a busy-polling lcore does between frames.
 */
const script = (burst: number, partial: "3+1" | "8"): string => `
const { packedRig, writeHonestUsed } = await import(${JSON.stringify(RIG_URL)});
const r = packedRig(256, []);
if (!r.info.features.includes("IN_ORDER")) throw new Error("IN_ORDER not negotiated");
const zone = r.zoneOf(false);
const cur = [0, 1];
const arr = new Uint32Array(64);
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
 * arm reached only from a call's second group). Both now load plainly every time and poll with
 * Atomics.load only on the call's first read.
 */
describe("packed RX: a group of four used three at a time after the warm-up", () => {
  it.each([
    [1, "3+1"],
    [4, "3+1"],
    [8, "8"],
  ] as const)("at burst %i, then %s a round: deoptimizes nothing on the data path, every frame received", async (burst, partial) => {
    const { before, after } = await tracePhases(script(burst, partial), ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "partial");
    expect(doneCounts(after)).toEqual({ sent: 20000 * 4 + 2000 * (partial === "8" ? 8 : 4), dropped: 0 });
    expect(optimized(before, "rxInOrder")).toBe(true);
    expect(dataPathDeopts(after)).toEqual([]);
  }, 60_000);
});

import { describe, expect, it } from "vitest";
import { deoptsOf, doneCounts, optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, VHOST_RIG_URL } from "@tpdk/testing/virtio-pmd";

/** The RX refill and the bursts that inline it. */
const RX_PATH = /<JSFunction (refillRing|rxBurst|rxInOrder)\b/;

/**
 * A 256-entry RX ring (refill threshold 128, chunks of 64) received from at burst 32 until rxBurst is
 * optimized: the refill always finds 128 free, two whole chunks. Then bursts of 20: 140 free, and
 * a last chunk of 12 (fewer free than a chunk). Frames are freed as they come.
 */
const splitScript = `
const { rig, frame } = await import(${JSON.stringify(RIG_URL)});
const r = rig({ rxDesc: 256, txDesc: 256, poolSize: 4096, pmd: { mrgRxbuf: false } });
const arr = new Uint32Array(64);
let got = 0;
function round(B, i) {
  for (let j = 0; j < B; j++) if (!r.dev.deliver(r.rxVq, frame(60, i + j), r.hdr, false)) throw new Error("no RX buffer");
  r.dev.publishUsed(r.rxVq);
  const k = r.rxq.rxBurst(arr, B);
  if (k !== B) throw new Error("received " + k);
  got += k;
  r.mbufs.freeBulk(arr, k);
}
for (let i = 0; i < 20000; i++) round(32, i);
console.log("=== odd");
for (let i = 0; i < 2000; i++) round(20, i);
console.log("=== done sent " + got + " dropped 0");
`;

/** The same on a packed ring: the device (a gated test wire repeating one frame) places k frames per round. */
const packedScript = `
const { packedRig, frameOf } = await import(${JSON.stringify(RIG_URL)});
const { releaseTestWire } = await import(${JSON.stringify(VHOST_RIG_URL)});
const s = packedRig(256, [frameOf(60, 1)], { mrgRxbuf: false }, { repeat: 0 });
const arr = new Uint32Array(64);
let got = 0;
function round(B) {
  releaseTestWire(s.mem, s.gen.recordOffset, B);
  s.pass(2);
  let k = 0;
  for (let t = 0; t < 4 && k < B; t++) k += s.rxq.rxBurst(arr, B - k, k);
  if (k !== B) throw new Error("received " + k);
  got += k;
  s.mbufs.freeBulk(arr, k);
}
for (let i = 0; i < 20000; i++) round(32);
console.log("=== odd");
for (let i = 0; i < 2000; i++) round(20);
console.log("=== done sent " + got + " dropped 0");
`;

/**
 * The refill's chunk count read \`this.nfree\` a second time when fewer were free than a chunk, a
 * case steady burst-32 traffic never reaches (128 free: two whole chunks), so the optimized code
 * had no type feedback for that load: --log-deopt showed "Insufficient type feedback" there in 33
 * of 34 packed b32 vu-ab runs at traffic start (helper-61, bench README "Session 20: GC"). The
 * count is now taken from one load, on both ring layouts. Run with --no-turbo-inlining so the
 * deopt names refillRing, not the script's loop it would be inlined into.
 */
describe("an RX refill of fewer buffers than a chunk after steady traffic", () => {
  for (const [ring, script] of [["split", splitScript], ["packed", packedScript]] as const) {
    it(`${ring}: deoptimizes nothing on the RX path, every frame received`, async () => {
      const { before, after } = await tracePhases(script, ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "odd");
      expect(doneCounts(after).sent).toBe(20000 * 32 + 2000 * 20);
      expect(optimized(before, "refillRing")).toBe(true);
      expect(deoptsOf(after, RX_PATH)).toEqual([]);
    }, 90_000);
  }
});

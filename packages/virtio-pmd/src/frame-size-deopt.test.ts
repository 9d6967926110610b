import { describe, expect, it } from "vitest";
import { optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, VHOST_RIG_URL, dataPathDeopts } from "@tpdk/testing/virtio-pmd";

/** Frame lengths past every size bin and both touch cases (ending inside or past the first data line). */
const MIX = "[60, 100, 200, 600, 1200, 1514, 64, 65, 1024, 1514]";

/**
 * Split rings: 64 B frames received and sent back until rxBurst and txBurst are optimized, then
 * one burst of mixed sizes, then 64 B again.
 */
const splitScript = (mrg: boolean): string => `
const { rig, frame } = await import(${JSON.stringify(RIG_URL)});
const r = rig({ rxDesc: 256, txDesc: 256, pmd: { mrgRxbuf: ${mrg} } });
const arr = new Uint32Array(64);
function round(sizes) {
  for (let i = 0; i < 32; i++) if (!r.dev.deliver(r.rxVq, frame(sizes[i % sizes.length], i), r.hdr, ${mrg})) throw new Error("no RX buffer");
  r.dev.publishUsed(r.rxVq);
  let got = 0;
  while (got < 32) {
    const k = r.rxq.rxBurst(arr, 32);
    let s = 0;
    for (let t = 0; t < 8 && s < k; t++) { s += r.txq.txBurst(arr, k - s, s); r.dev.drainTx(r.txVq); }
    for (let j = s; j < k; j++) r.mbufs.free(arr[j]);
    got += k;
  }
}
for (let i = 0; i < 20000; i++) round([60]);
console.log("=== mix");
round(${MIX});
for (let i = 0; i < 2000; i++) round([60]);
console.log("=== done");
`;

/** Packed rings: the same through the real device core (packedRig), its gated wire releasing 32 frames a round. */
const packedScript = `
const { packedRig, frame } = await import(${JSON.stringify(RIG_URL)});
const { releaseTestWire } = await import(${JSON.stringify(VHOST_RIG_URL)});
const W = 6000;
const mix = ${MIX};
const frames = [];
for (let i = 0; i < W * 32; i++) frames.push(frame(60, i));
for (let i = 0; i < 32; i++) frames.push(frame(mix[i % mix.length], i));
for (let i = 0; i < 500 * 32; i++) frames.push(frame(60, i));
const s = packedRig(256, frames);
const arr = new Uint32Array(64);
function round() {
  releaseTestWire(s.mem, s.gen.recordOffset, 32);
  s.pass(2);
  let n = 0;
  for (let t = 0; t < 4 && n < 32; t++) n += s.rxq.rxBurst(arr, 64 - n, n);
  let sent = 0;
  for (let t = 0; t < 8 && sent < n; t++) { sent += s.txq.txBurst(arr, n - sent, sent); s.pass(1); }
  for (let j = sent; j < n; j++) s.mbufs.free(arr[j]);
  return n;
}
let got = 0;
for (let i = 0; i < W; i++) got += round();
console.log("=== mix");
got += round();
for (let i = 0; i < 500; i++) got += round();
if (got !== (W + 501) * 32) throw new Error("received " + got);
console.log("=== done");
`;

async function trace(script: string): Promise<{ before: string; after: string }> {
  const parts = await tracePhases(script, ["--trace-opt", "--trace-deopt"], "mix", 110_000);
  expect(parts.after).toContain("=== done");
  return parts;
}

/**
 * A benchmark or a warm-up of one frame size leaves the other sizes' paths without type feedback
 * (the size bins' compares, a mixed-size run, the RX touch's loads for frames longer than their
 * first data line): the first frame of another size, seconds or hours later, deoptimized the
 * optimized bursts (--trace-deopt, "Insufficient type feedback"). frame-steps.ts primes the
 * statistics steps as the module loads, the touches run their loads while statPrimes lasts.
 */
describe("the first frame of another size after 64 B traffic", () => {
  for (const mrg of [false, true]) {
    it(`split rings (mrg_rxbuf=${mrg ? 1 : 0}): deoptimizes nothing on the data path`, async () => {
      const { before, after } = await trace(splitScript(mrg));
      expect(optimized(before, "rxInOrder") && optimized(before, "txBurst")).toBe(true);
      expect(dataPathDeopts(after)).toEqual([]);
    }, 120_000);
  }

  it("packed rings: deoptimizes nothing on the data path", async () => {
    const { before, after } = await trace(packedScript);
    expect(optimized(before, "touchAhead") && optimized(before, "txBurst")).toBe(true);
    expect(dataPathDeopts(after)).toEqual([]);
  }, 120_000);
});

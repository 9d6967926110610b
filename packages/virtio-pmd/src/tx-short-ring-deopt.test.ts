import { describe, expect, it } from "vitest";
import { doneCounts, optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, VHOST_RIG_URL, dataPathDeopts } from "@tpdk/testing/virtio-pmd";

/**
 * Split ring, IN_ORDER push, burst 1 (the built-in pipeline's `push b1`): one 60 B frame received
 * and sent per round, the device using every TX descriptor at once, until rxBurst and txBurst are
 * optimized; then the device stops using TX descriptors until the ring has fewer free than the
 * burst (txBurst's push batch takes `nfree` frames, not `n`), then it drains again.
 */
const script = (mode: string, burst: number): string => `
const { rig, frame } = await import(${JSON.stringify(RIG_URL)});
const r = rig({ rxDesc: 256, txDesc: 256, poolSize: 4096, pmd: { mrgRxbuf: false, txMode: "${mode}" } });
const B = ${burst};
const arr = new Uint32Array(64);
let sent = 0;
let dropped = 0;
let delivered = 0;
function round(i, drain) {
  for (let j = 0; j < B; j++) if (!r.dev.deliver(r.rxVq, frame(60, i + j), r.hdr, false)) throw new Error("no RX buffer");
  r.dev.publishUsed(r.rxVq);
  const k = r.rxq.rxBurst(arr, B);
  if (k !== B) throw new Error("received " + k);
  const s = r.txq.txBurst(arr, B, 0);
  sent += s;
  for (let j = s; j < k; j++) { r.mbufs.free(arr[j]); dropped++; }
  if (drain) delivered += r.dev.drainTx(r.txVq).length;
}
for (let i = 0; i < 30000; i++) round(i, true);
console.log("=== short");
for (let i = 0; i < 600 / B; i++) round(i, false);
delivered += r.dev.drainTx(r.txVq).length;
for (let i = 0; i < 1000; i++) round(i, true);
console.log("=== done sent " + sent + " dropped " + dropped + " delivered " + delivered);
`;

/**
 * The same on a packed ring (IN_ORDER push, the device stepped by hand): frames from the pool sent
 * at burst B, the device using them every other round, until txBurst is optimized; then no device pass
 * for 600 rounds (the ring fills: the push batch's count is the free descriptors, not n), then
 * it drains again. The packed push batch read \`this.nfreeDesc\` a second time in that case only:
 * vu-shared packed b1 with the RX refill at half the ring showed the deopt 2-3 s into the window,
 * an lcore scavenge 10-30 ms later (bench README, "Session 19: the RX refill at half the ring").
 */
const packedScript = (burst: number): string => `
const { packedRig } = await import(${JSON.stringify(RIG_URL)});
const { readTestWire } = await import(${JSON.stringify(VHOST_RIG_URL)});
const s = packedRig(256, [], { mrgRxbuf: false });
const B = ${burst};
const arr = new Uint32Array(64);
let sent = 0;
let dropped = 0;
function round(drain) {
  for (let j = 0; j < B; j++) { arr[j] = s.pool.alloc(); s.mbufs.append(arr[j], 60); }
  const k = s.txq.txBurst(arr, B, 0);
  sent += k;
  for (let j = k; j < B; j++) { s.mbufs.free(arr[j]); dropped++; }
  if (drain) s.pass();
}
// The device uses two rounds' frames per pass, as a polling back-end takes whatever is there (IN_ORDER: one
// used descriptor for both, naming the second, so reclaimInOrder walks past the first).
for (let i = 0; i < 30000; i++) round(i % 2 === 1);
console.log("=== short");
for (let i = 0; i < 600; i++) round(false);
s.pass();
for (let i = 0; i < 1000; i++) round(true);
console.log("=== done sent " + sent + " dropped " + dropped + " delivered " + readTestWire(s.mem, s.gen.recordOffset).consumed);
`;

/**
 * The TX ring left with fewer free descriptors than the burst (at burst 1: a full ring) comes at a
 * random moment of a run (the device late). txBurst's push batch read `this.nfree` a second time
 * for its count in that case only, a load without type feedback when the bursts were optimized:
 * --trace-deopt showed "Insufficient type feedback for generic named access" in txBurst, and the
 * interpreted bursts until it was optimized again allocated (boxed counters) a scavenge's worth
 * (the built-in pipeline, push b1 mrg_rxbuf=0: a deopt 2 ms into a measured window, an lcore
 * scavenge 26 ms later; bench README "Session 17: GC"). The count is now taken from one load.
 */
describe("a TX ring shorter than the burst after steady traffic", () => {
  const cases: [string, string][] = [
    ["packed IN_ORDER push at burst 1", packedScript(1)],
    ...([["push", 1], ["indirect", 16], ["chained", 16]] as const).map(([mode, burst]): [string, string] => [`split IN_ORDER ${mode} at burst ${burst}`, script(mode, burst)]),
  ];
  for (const [name, source] of cases) {
    it(`${name}: deoptimizes nothing on the data path, every frame counted sent delivered`, async () => {
      const { before, after } = await tracePhases(source, ["--trace-opt", "--trace-deopt"], "short");
      const { sent, dropped, delivered } = doneCounts(after);
      // The short phase ran out of room: some frames dropped; every frame counted sent reached the device.
      expect(dropped).toBeGreaterThan(0);
      expect(delivered).toBe(sent);
      expect(optimized(before, "txBurst")).toBe(true);
      expect(dataPathDeopts(after)).toEqual([]);
    }, 90_000);
  }
});

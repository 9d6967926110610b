import { describe, expect, it } from "vitest";
import { doneCounts, optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, dataPathDeopts } from "@tpdk/testing/virtio-pmd";

/**
 * TX without MRG_RXBUF (split IN_ORDER push batch at burst 32, or packed), frames from the pool
 * whose headers are all 0 (as facing DPDK's vhost, which writes nothing into them then), the device
 * taking every frame back, until txBurst is optimized; then frames whose header has num_buffers = 1
 * (as a device that stores it without MRG_RXBUF leaves it: QEMU, Linux's vhost-net), which TX must
 * store 0 (virtio 1.2 §5.1.6.2.1).
 */
const script = (packed: boolean): string => `
const { rig, packedRig } = await import(${JSON.stringify(RIG_URL)});
const B = 32;
const arr = new Uint32Array(64);
let sent = 0;
let dropped = 0;
let delivered = 0;
let r;
let drain;
if (${packed}) {
  r = packedRig(256, [], { mrgRxbuf: false });
  drain = () => { r.pass(); return 0; };
} else {
  r = rig({ rxDesc: 256, txDesc: 256, poolSize: 4096, pmd: { mrgRxbuf: false } });
  drain = () => r.dev.drainTx(r.txVq).length;
}
if (r.info.features.includes("MRG_RXBUF")) throw new Error("MRG_RXBUF negotiated");
function round(dirty) {
  for (let j = 0; j < B; j++) {
    const m = r.pool.alloc();
    r.mbufs.append(m, 60);
    if (dirty) r.mem.u8[r.mbufs.dataAddr(m) - 2] = 1;
    arr[j] = m;
  }
  const k = r.txq.txBurst(arr, B, 0);
  sent += k;
  for (let j = k; j < B; j++) { r.mbufs.free(arr[j]); dropped++; }
  delivered += drain();
}
for (let i = 0; i < 20000; i++) round(false);
console.log("=== dirty");
for (let i = 0; i < 2000; i++) round(i % 3 === 0);
console.log("=== done sent " + sent + " dropped " + dropped + " delivered " + (${packed} ? sent : delivered));
`;

/**
 * Without MRG_RXBUF the header zeroing stores only into a header that is not all 0
 * (TxQueue.quietHeader). Facing a device that leaves them 0, its stores may not run for the whole
 * warm-up; the first header with a 1 in it, long after txBurst was optimized, would then deoptimize
 * it ("Insufficient type feedback"; an lcore scavenge follows, bench README "Session 17: GC"). The
 * queue's first bursts run both the compare and the stores (statPrimes).
 */
describe("TX without MRG_RXBUF: headers all 0, then some with num_buffers 1", () => {
  for (const packed of [false, true]) {
    it(`${packed ? "packed" : "split IN_ORDER push batch"} at burst 32: deoptimizes nothing on the data path`, async () => {
      const { before, after } = await tracePhases(script(packed), ["--trace-opt", "--trace-deopt"], "dirty");
      const { sent, dropped } = doneCounts(after);
      expect(dropped).toBe(0);
      expect(sent).toBe(22000 * 32);
      expect(optimized(before, "txBurst")).toBe(true);
      expect(dataPathDeopts(after)).toEqual([]);
    }, 90_000);
  }
});

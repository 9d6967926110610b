import { describe, expect, it } from "vitest";
import { tracePhases, turbofanInlined } from "@tpdk/testing/child";
import { RIG_URL } from "@tpdk/testing/virtio-pmd";

/**
 * Split IN_ORDER push TX at burst 32 with now and then a shorter burst (so a later burst starts off
 * a line boundary and the one-frame step runs too), the fake device taking every chain back.
 */
const script = (mrg: boolean): string => `
const { rig, frame } = await import(${JSON.stringify(RIG_URL)});
const r = rig({ rxDesc: 256, txDesc: 256, poolSize: 2048, pmd: { queueSize: 256, mrgRxbuf: ${mrg} } });
if (r.info.features.includes("MRG_RXBUF") !== ${mrg}) throw new Error("MRG_RXBUF not as asked");
const f = frame(64, 1);
const arr = new Uint32Array(32);
for (let i = 0; i < 20000; i++) {
  const n = i % 7 === 3 ? 1 + (i % 31) : 32;
  for (let j = 0; j < n; j++) {
    const m = r.pool.alloc();
    r.mem.u8.set(f, r.mbufs.dataAddr(m));
    r.mbufs.setDataLen(m, 64);
    r.mbufs.setPktLen(m, 64);
    arr[j] = m;
  }
  const k = r.txq.txBurst(arr, n);
  for (let j = k; j < n; j++) r.mbufs.free(arr[j]);
  r.dev.drainTx(r.txVq);
}
console.log("=== done");
`;

/** --trace-turbo-inlining: the functions inlined into txBurst's last TurboFan compile, in the order V8 inlined them. */
function inlinedIntoTxBurst(out: string): string[] {
  const compiles = turbofanInlined(out, "txBurst");
  expect(compiles.length > 0, "txBurst compiled by TurboFan").toBe(true);
  return compiles[compiles.length - 1]!;
}

/**
 * V8 inlines at most 920 bytes of bytecode into one function (max_inlined_bytecode_size_cumulative).
 * The split push batch calls its per-frame steps from the quad (four header zeroings, the size run)
 * and from the one-frame step (push test with its header zeroing, the size run): with zeroHeader's
 * compares and byte loop (142 bytes each) those calls took the budget, and zeroHeader and sizeBinOf
 * ran as calls of their own (bench/notes/both-rings.md, "Session 22: burst 32 (split TX, packed
 * stores: dropped)"). Both header choices of the
 * queue (TxQueue.quietHeader): the three stores under MRG_RXBUF, the compare first without it.
 *
 * The one-frame step's pushHeader12 (the frames of a burst before and after its quads) is inlined
 * by V8 11 (Node 20) but not by V8 14 (Node 26): every step's bytecode is 1-5 bytes longer there
 * (zeroHeader12 72 for 71, sizeRun4 85 for 82, pushHeader12 151 for 146), and pushHeader12 with its
 * zeroHeader12 no longer fits what the quad's steps leave of the budget (session 33,
 * bench/notes/both-rings.md "Session 33: txBurst's inlining under Node 26"). So the check is that
 * every header zeroing is inlined where its caller is (four in the quad, one more when pushHeader12
 * is) and every size step is, not a count of one V8's.
 *
 * Likewise sizeBinOf: V8 13 and 14 (Node 24, 26) also inline sizeBins4, the mixed-size quad's rare
 * path (116 bytes; V8 11 calls it), and V8 13 then one of its four sizeBinOf (72 bytes; V8 14's 77
 * do not fit): three in all under Node 24 (session 34, bench/notes/gc.md "Session 34: a window for
 * compiled code's allocations"). The check is the two hot ones, the quad's (in sizeRun4) and the
 * one-frame step's, inlined before sizeBins4 (V8 inlines a function's calls only after it), and at
 * most sizeBins4's four after it.
 */
describe("split TX push batch: the per-frame steps fit V8's inlining budget", () => {
  it.each([{ mrg: true }, { mrg: false }])("txBurst inlines every header zeroing of the quad (and of the push test where it inlines that) and the size-bin steps of both the quad and the one-frame step (MRG_RXBUF: $mrg)", async ({ mrg }) => {
    const { before } = await tracePhases(script(mrg), ["--trace-turbo-inlining", "--trace-opt"], "done", 110_000);
    const order = inlinedIntoTxBurst(before);
    const n = new Map<string, number>();
    for (const f of order) n.set(f, (n.get(f) ?? 0) + 1);
    // Four in the quad, one in pushHeader12 where txBurst inlines it (V8 11; V8 14 calls it).
    const push = n.get("pushHeader12") ?? 0;
    expect(push).toBeLessThanOrEqual(1);
    expect(n.get("zeroHeader12") ?? 0).toBe(4 + push);
    expect(n.get("sizeRun4") ?? 0).toBe(1);
    // The quad's (in sizeRun4) and the one-frame step's.
    expect(n.get("sizeRun") ?? 0).toBe(2);
    const bins4 = order.indexOf("sizeBins4");
    const hot = bins4 < 0 ? order : order.slice(0, bins4);
    expect(hot.filter((f) => f === "sizeBinOf").length, order.join(" ")).toBe(2);
    expect((n.get("sizeBinOf") ?? 0) - 2, order.join(" ")).toBeLessThanOrEqual(4 * (n.get("sizeBins4") ?? 0));
  }, 120_000);
});

import { describe, expect, it } from "vitest";
import { deoptTimes } from "./deopt-times.js";

// A kept run: the window (epoch ms), the lcore's mark (3 forced GCs, the last at isolate time 40 ms,
// wall clock 1_000_040 ms), a scavenge at isolate time 5040 ms, and its --log-deopt log.
const kept = [
  "tpdk-vu-window-epoch-ms 1003000 1013000",
  'tpdk-bench-gc-mark {"thread":"lcore","marks":3,"t":1000040}',
  "[77:0x7f00aa000f00]       20 ms: Mark-Compact 3.0 (4.0) -> 2.0 (4.0) MB, 1.00 / 0.00 ms  (average mu = 1.000) testing; GC in old space requested",
  "[77:0x7f00aa000f00]       30 ms: Mark-Compact 3.0 (4.0) -> 2.0 (4.0) MB, 1.00 / 0.00 ms  (average mu = 1.000) testing; GC in old space requested",
  "[77:0x7f00aa000f00]       40 ms: Mark-Compact 3.0 (4.0) -> 2.0 (4.0) MB, 1.00 / 0.00 ms  (average mu = 1.000) testing; GC in old space requested",
  "[bailout (kind: deopt-eager, reason: Insufficient type feedback for binary operation): begin. deoptimizing ...]",
  "[77:0x7f00aa000f00]     5040 ms: Scavenge 11.5 (16.0) -> 8.0 (9.5) MB, 8.82 / 0.00 ms  (average mu = 0.014, current mu = 0.010) allocation failure; ",
].join("\n");
const log = [
  "v8-version,11,3,244,8,-node.38,0",
  "code-deopt,1500000,832,0x7f00ec051b00,-1,21781,deopt-eager,<file:///x/packed-txq.js:302:22>,Insufficient type feedback for binary operation",
  "code-deopt,5030000,832,0x7f00ec051b00,-1,21781,deopt-eager,<file:///x/mempool.js:305:27> inlined at <file:///x/packed-rxq.js:572:34>,Insufficient type feedback for binary operation",
].join("\n");

describe("deopt-times", () => {
  it("puts the lcore's GCs and deopts on the window's scale (the mark's offset), forced GCs left out, the log found by isolate and pid", () => {
    const names: string[] = [];
    const ev = deoptTimes(kept, (name) => {
      names.push(name);
      return name === "isolate-0x7f00aa000f00-77-v8.log" ? log : null;
    });
    expect(names).toEqual(["isolate-0x7f00aa000f00-77-v8.log"]);
    expect(ev.map((e) => [e.thread, Number(e.s.toFixed(3)), e.inWindow, e.what.split(" ")[0]])).toEqual([
      ["lcore", -1.5, false, "deopt"],
      ["lcore", 2.03, true, "deopt"],
      ["lcore", 2.04, true, "GC"],
    ]);
    expect(ev[1]!.what).toContain("mempool.js:305:27> inlined at <file:///x/packed-rxq.js:572:34> Insufficient type feedback");
  });

  it("refuses a file without the window line", () => {
    expect(() => deoptTimes("[1:0x1] 5 ms: Scavenge ...", () => null)).toThrow(/window/);
  });
});

import { describe, expect, it } from "vitest";
import { attributeGcs, parseGcMarks, parseTraceGc } from "./trace-gc.js";

const line = (iso: string, t: number, kind: string, pause: number, reason: string) =>
  `[42:${iso}]   ${t} ms: ${kind} 10.8 (15.2) -> 6.8 (15.2) MB, ${pause} / 0.00 ms  (average mu = 1.000, current mu = 1.000) ${reason}; `;

describe("parseTraceGc", () => {
  it("reads isolate, time, kind, pause and forced GCs, and ignores other lines", () => {
    const text = [
      line("0x1a", 16, "Mark-Compact", 2.89, "testing"),
      "TPDK-BENCH-RESULT {}",
      line("0x7f00", 2150, "Scavenge", 0.15, "allocation failure"),
      line("0x7f00", 2160, "Mark-Compact (reduce)", 1.5, "last resort"),
    ].join("\n");
    const g = parseTraceGc(text);
    expect(g).toEqual([
      { isolate: "0x1a", t: 16, kind: "Mark-Compact", pauseMs: 2.89, forced: true },
      { isolate: "0x7f00", t: 2150, kind: "Scavenge", pauseMs: 0.15, forced: false },
      { isolate: "0x7f00", t: 2160, kind: "Mark-Compact (reduce)", pauseMs: 1.5, forced: false },
    ]);
  });
});

describe("attributeGcs", () => {
  // Isolate A (main): 1 forced GC at 10 ms, wall clock 1010 then. B (device): 2 forced, last at 20 ms = wall 2020.
  // C (lcore): 3 forced, last at 30 ms = wall 3030.
  const trace = parseTraceGc(
    [
      line("0xa", 10, "Mark-Compact", 1, "testing"),
      line("0xa", 500, "Scavenge", 0.2, "allocation failure"), // wall 1500: before the window
      line("0xb", 15, "Mark-Compact", 1, "testing"),
      line("0xb", 20, "Mark-Compact", 1, "testing"),
      line("0xb", 100, "Scavenge", 0.3, "allocation failure"), // wall 2100: in
      line("0xb", 2000, "Scavenge", 0.4, "allocation failure"), // wall 4000: after
      line("0xc", 25, "Mark-Compact", 1, "testing"),
      line("0xc", 28, "Mark-Compact", 1, "testing"),
      line("0xc", 30, "Mark-Compact", 1, "testing"),
      line("0xc", 40, "Scavenge", 0.5, "allocation failure"), // wall 3040: in
      line("0xc", 50, "Scavenge", 0.6, "allocation failure"), // wall 3050: in
    ].join("\n"),
  );
  const marks = [
    { thread: "main" as const, marks: 1, t: 1010 },
    { thread: "device" as const, marks: 2, t: 2020 },
    { thread: "lcore" as const, marks: 3, t: 3030 },
  ];

  it("matches isolates by their forced GCs and counts only the window's GCs", () => {
    const a = attributeGcs(trace, marks, 2000, 3500);
    expect(a.complete).toBe(true);
    expect(a.window).toEqual({ main: 0, device: 1, lcore: 2, maxPauseMs: 0.6 });
    expect(a.total).toEqual({ main: 1, device: 2, lcore: 2, maxPauseMs: 0.6 });
  });

  it("says when an isolate or a mark is left unmatched", () => {
    expect(attributeGcs(trace, marks.slice(0, 2), 0, 1e9).complete).toBe(false);
    expect(attributeGcs(trace.filter((g) => g.isolate !== "0xc"), marks, 0, 1e9).complete).toBe(false);
  });
});

describe("parseGcMarks", () => {
  it("reads the marks each thread wrote to stderr among other lines, and skips a torn one", () => {
    const text = [
      "EAL: something",
      'tpdk-bench-gc-mark {"thread":"main","marks":1,"t":1000.5}',
      'tpdk-bench-gc-mark {"thread":"lcore","marks":3,"t":1010}',
      'tpdk-bench-gc-mark {"thread":"lco',
      "Lcore 0: RX port 0 TX port 0",
    ].join("\n");
    expect(parseGcMarks(text)).toEqual([
      { thread: "main", marks: 1, t: 1000.5 },
      { thread: "lcore", marks: 3, t: 1010 },
    ]);
  });
});

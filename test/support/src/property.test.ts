import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertProperty } from "@tpdk/testing/property";

describe("assertProperty", () => {
  it("runs numRuns cases of the seed's, the same ones each time, and returns how many ran", () => {
    const seen: number[][] = [[], []];
    for (const run of seen) expect(assertProperty(fc.property(fc.nat(), (x) => void run.push(x)), { numRuns: 20, seed: 7, limitMs: 10_000, minCases: 20 })).toBe(20);
    expect(seen[1]).toEqual(seen[0]);
  });

  it("throws fast-check's report (seed, counterexample) with the error as its cause", () => {
    let err: Error | null = null;
    try {
      assertProperty(fc.property(fc.nat(), (x) => {
        expect(x).toBeLessThan(10);
      }), { numRuns: 100, seed: 1, limitMs: 10_000, minCases: 1 });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/^Property failed after \d+ tests\n\{ seed: 1, path: .*\nCounterexample: \[10\]\n[^]*Got error: expected 10 to be less than 10/);
    expect((err?.cause as Error).message).toBe("expected 10 to be less than 10");
  });

  it("starts no case after limitMs, and fails when fewer than minCases ran", () => {
    const slow = fc.property(fc.nat(), () => {
      const end = Date.now() + 10;
      while (Date.now() < end);
    });
    const t0 = Date.now();
    expect(() => assertProperty(slow, { numRuns: 1000, seed: 3, limitMs: 50, minCases: 100 })).toThrow(/^only \d cases ran within 50 ms \(seed 3\), fewer than the 100 required$/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(assertProperty(slow, { numRuns: 1000, seed: 3, limitMs: 50, minCases: 2 })).toBeLessThan(10);
  });
});

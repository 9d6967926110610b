import * as fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SEED_ENV, assertProperty, propertySeed } from "@tpdk/testing/property";

// These check the fixed seeds themselves: whatever TPDK_PROPERTY_SEED the run was started with, unset here.
beforeEach(() => vi.stubEnv(SEED_ENV, undefined));
afterEach(() => vi.unstubAllEnvs());

/** The cases a property of fc.nat() sees with bound seed `seed`, under TPDK_PROPERTY_SEED `env`. */
function casesOf(seed: number, env: string | undefined): number[] {
  vi.stubEnv(SEED_ENV, env);
  const seen: number[] = [];
  assertProperty(fc.property(fc.nat(), (x) => void seen.push(x)), { numRuns: 20, seed, limitMs: 10_000, minCases: 20 });
  return seen;
}

/** The error a failing property (x < 10 for every nat x) throws with bound seed 1 under TPDK_PROPERTY_SEED `env`. */
function failureOf(env: string | undefined): Error {
  vi.stubEnv(SEED_ENV, env);
  try {
    assertProperty(fc.property(fc.nat(), (x) => void expect(x).toBeLessThan(10)), { numRuns: 100, seed: 1, limitMs: 10_000, minCases: 1 });
  } catch (e) {
    return e as Error;
  }
  throw new Error("the property did not fail");
}

describe("TPDK_PROPERTY_SEED (fresh seeds)", () => {
  it("unset or empty: each property's fixed seed", () => {
    expect(casesOf(7, "")).toEqual(casesOf(7, undefined));
    expect(propertySeed(2901, undefined)).toBe(2901);
    expect(propertySeed(2901, "")).toBe(2901);
  });

  it("an integer: that seed instead of the fixed one", () => {
    expect(casesOf(99, "7")).toEqual(casesOf(7, undefined));
    expect(casesOf(99, "7")).not.toEqual(casesOf(99, undefined));
    expect(propertySeed(2901, "4294967295")).toBe(4294967295);
  });

  it("random: a fresh seed per property, and a failure says which TPDK_PROPERTY_SEED replays it", () => {
    expect(casesOf(7, "random")).not.toEqual(casesOf(7, "random"));
    const err = failureOf("random");
    const m = /\nOn TPDK_PROPERTY_SEED=random \(not the fixed seed 1\): replay with TPDK_PROPERTY_SEED=(\d+)$/.exec(err.message);
    expect(m, err.message).not.toBeNull();
    expect(err.message).toContain(`{ seed: ${Number(m![1]) | 0}, path: `);
    // The seed printed replays the same run: the same report, counterexample and all.
    const again = failureOf(m![1]);
    expect(again.message.split("\nOn ")[0]).toBe(err.message.split("\nOn ")[0]);
  });

  it("refuses any other value, saying what it takes", () => {
    for (const bad of ["rand", "-1", "1.5", "4294967296", " 7"]) {
      expect(() => propertySeed(1, bad)).toThrow(`TPDK_PROPERTY_SEED=${bad}: use random or a seed 0..4294967295`);
    }
    vi.stubEnv(SEED_ENV, "x");
    expect(() => assertProperty(fc.property(fc.nat(), () => true), { numRuns: 1, seed: 1, limitMs: 1000, minCases: 1 })).toThrow(/TPDK_PROPERTY_SEED=x/);
  });
});

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

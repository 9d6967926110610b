// A property test bounded in time as well as in count, with a seed: the same cases, in the same order,
// on every run, and no case started after `limitMs` however slow the machine (a benchmark at autogroup
// -20 leaves a test ~1 % of a CPU). Session 28 bounded virtio-pmd's packed property test so, inline;
// session 29 made it this one function for every `fc.assert` of the unit tests (ring, vhost's device
// and wires, virtio-pmd's packed driver).
//
// How they are sized (session 29, each site's comment has its figures): the time of a case alone and
// with two CPU hogs at autogroup nice -10 (~13-18 times longer; beside a benchmark at -20, 30-40 times);
// `limitMs` 20 s, so that even a run starved to the minimum ends well inside the test's own timeout,
// given explicitly (60 s); `minCases` the cases of ~0.1 s of CPU alone (all of them where that is more
// than numRuns), ~10 s at ~1 % of a CPU. A starved run checks the seed's first cases, the same ones
// each time; `pnpm fuzz` runs the device and driver scenarios on fresh seeds.
//
// Fresh seeds (session 30): TPDK_PROPERTY_SEED, read here only (propertySeed), replaces every fixed
// seed: `random` draws one per property (printed on failure with the line that replays it), an integer
// is that seed for every property. Unset (CI), the fixed seeds. `pnpm fuzz -- --side properties` runs
// the unit property files round after round on seeds S, S + 1, ... (scripts/src/lib/property-rounds.ts).
import { randomInt } from "node:crypto";
import * as fc from "fast-check";

/** The environment variable that replaces the fixed seeds: unset or empty: them; `random`; or a seed 0..4294967295. */
export const SEED_ENV = "TPDK_PROPERTY_SEED";

/**
 * The seed a property runs on: `fixed` (its own, what CI runs) unless TPDK_PROPERTY_SEED (`value`)
 * says otherwise: `random`, a fresh seed on each call; an integer 0..4294967295 (pnpm fuzz's --seed
 * range; fast-check reports one past 2^31 - 1 as its int32, seed | 0), that seed. Throws on any other value.
 */
export function propertySeed(fixed: number, value: string | undefined = process.env[SEED_ENV]): number {
  if (value === undefined || value === "") return fixed;
  // fast-check takes its seed as an int32 (seed | 0): drawn in 0..2^31 - 1, its report shows the same number.
  if (value === "random") return randomInt(0, 2 ** 31);
  if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffffffff) {
    throw new Error(`${SEED_ENV}=${value}: use random or a seed 0..4294967295 (unset: each property's fixed seed)`);
  }
  return Number(value);
}

/** How far a property run may go. Size each from a measurement (time per case alone and under load). */
export interface PropertyBound {
  /** Cases when time allows (fast-check's numRuns). */
  numRuns: number;
  /** The run's seed (fast-check's): reproducible cases. TPDK_PROPERTY_SEED replaces it (propertySeed). */
  seed: number;
  /** No case starts after this many ms from the start (interruptAfterTimeLimit); a failure's shrinking is bounded by it too. */
  limitMs: number;
  /** Fewer cases run than this before the limit fails the test: a run so starved that it checked next to nothing. */
  minCases: number;
}

/**
 * fast-check's `fc.assert`, bounded: runs `property` for `b.numRuns` cases from `b.seed` (or the seed
 * TPDK_PROPERTY_SEED gives: propertySeed), starting none after `b.limitMs`. Throws what `fc.assert`
 * would on a failure (the counterexample, the seed and path to replay it, the error as `cause`; on a
 * seed not its own, the TPDK_PROPERTY_SEED that replays it), or when fewer than `b.minCases` cases ran.
 * Returns how many ran.
 */
export function assertProperty<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, b: PropertyBound): number {
  const seed = propertySeed(b.seed);
  const replay = seed === b.seed ? "" : `\nOn ${SEED_ENV}=${process.env[SEED_ENV]} (not the fixed seed ${b.seed}): replay with ${SEED_ENV}=${seed}`;
  const d = fc.check(property, { numRuns: b.numRuns, seed, interruptAfterTimeLimit: b.limitMs, markInterruptAsFailure: false });
  if (d.failed) {
    const cause = d.errorInstance;
    throw new Error(`${fc.defaultReportMessage(d) ?? "property failed"}\nGot error: ${cause instanceof Error ? cause.message : String(cause)}${replay}`, { cause });
  }
  if (d.numRuns < b.minCases) {
    throw new Error(`only ${d.numRuns} cases ran within ${b.limitMs} ms (seed ${seed}), fewer than the ${b.minCases} required${replay}`);
  }
  return d.numRuns;
}

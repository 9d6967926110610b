import * as fc from "fast-check";
import { type DeviceFuzzStats, deviceScenarioArb, newDeviceFuzzStats, runDeviceScenario } from "./fuzz-device.js";
import { type DriverFuzzStats, driverScenarioArb, newDriverFuzzStats, runDriverScenario } from "./fuzz-driver.js";
import {
  type PackedDeviceStats, newPackedDeviceStats, packedDeviceScenarioArb, runPackedDeviceScenario,
} from "@tpdk/testing/packed-arbitraries";
import {
  type PackedDriverStats, newPackedDriverStats, packedDriverScenarioArb, runPackedDriverScenario,
} from "@tpdk/testing/virtio-pmd";

/**
 * Which side is fuzzed, on which ring layout: the device (vhost) against hostile driver-written
 * rings, the driver (virtio-pmd) against a hostile device; split rings (§2.7) or packed (§2.8,
 * the generators and invariants of the packed unit tests, from @tpdk/testing).
 */
export type FuzzSide = "device" | "driver" | "packed-device" | "packed-driver";
export const FUZZ_SIDES: readonly FuzzSide[] = ["device", "driver", "packed-device", "packed-driver"];

export interface FuzzFailure {
  side: FuzzSide;
  /** Replays the failing batch: --side <side> --seed <seed> --runs <runs>. */
  seed: number;
  runs: number;
  /** The error (or "hang"), fast-check's report (shrunk counterexample, path). */
  report: string;
  counterexample: unknown;
}

export interface FuzzStats {
  device: DeviceFuzzStats;
  driver: DriverFuzzStats;
  "packed-device": PackedDeviceStats;
  "packed-driver": PackedDriverStats;
}

export function newFuzzStats(): FuzzStats {
  return { device: newDeviceFuzzStats(), driver: newDriverFuzzStats(), "packed-device": newPackedDeviceStats(), "packed-driver": newPackedDriverStats() };
}

/** Runs per side, all zero. */
export function noRuns(): Record<FuzzSide, number> {
  return { device: 0, driver: 0, "packed-device": 0, "packed-driver": 0 };
}

export interface BatchResult {
  numRuns: number;
  failure: FuzzFailure | null;
}

/**
 * One batch: `runs` fast-check runs of one side's property from `seed`
 * (the same seed and runs replay the same scenarios). A failure is shrunk
 * for at most `shrinkMs` (fast-check's interruptAfterTimeLimit) and
 * reported. `onRun` sees every scenario before it runs (the supervisor keeps
 * the last one, to report it if the run never returns).
 */
export function runBatch(side: FuzzSide, seed: number, runs: number, stats: FuzzStats, shrinkMs = 60_000, onRun?: (s: unknown) => void): BatchResult {
  const out =
    side === "device"
      ? batch(deviceScenarioArb, (s) => runDeviceScenario(s, stats.device), seed, runs, shrinkMs, onRun)
      : side === "driver"
        ? batch(driverScenarioArb, (s) => runDriverScenario(s, stats.driver), seed, runs, shrinkMs, onRun)
        : side === "packed-device"
          ? batch(packedDeviceScenarioArb, (s) => runPackedDeviceScenario(s, stats["packed-device"]), seed, runs, shrinkMs, onRun)
          : batch(packedDriverScenarioArb, (s) => runPackedDriverScenario(s, stats["packed-driver"]), seed, runs, shrinkMs, onRun);
  return { numRuns: out.numRuns, failure: out.failure ? { side, seed, runs, ...out.failure } : null };
}

function batch<T>(
  arb: fc.Arbitrary<T>,
  run: (s: T) => void,
  seed: number,
  numRuns: number,
  shrinkMs: number,
  onRun?: (s: unknown) => void,
): { numRuns: number; failure: { report: string; counterexample: unknown } | null } {
  const d = fc.check(
    fc.property(arb, (s) => {
      onRun?.(s);
      run(s);
    }),
    { seed, numRuns, interruptAfterTimeLimit: shrinkMs },
  );
  if (!d.failed) return { numRuns: d.numRuns, failure: null };
  const err = d.errorInstance instanceof Error ? (d.errorInstance.stack ?? d.errorInstance.message) : String(d.errorInstance);
  return { numRuns: d.numRuns, failure: { report: `${err}\n${fc.defaultReportMessage(d) ?? ""}`, counterexample: d.counterexample?.[0] } };
}

export interface FuzzOptions {
  /** Stop starting new batches after this many seconds. */
  seconds: number;
  /** Seed of the first batch; batch b uses seed + b. */
  seed: number;
  sides: readonly FuzzSide[];
  /** Scenarios per batch (default 25). */
  runsPerBatch?: number;
  /** At most this many batches (default: until the time is up). */
  maxBatches?: number;
  /** At least this many batches, time up or not (default 1; one per side: as many as `sides`). */
  minBatches?: number;
  log?: (line: string) => void;
}

export interface FuzzResult {
  batches: number;
  runs: Record<FuzzSide, number>;
  /** First and last batch seed. */
  seeds: [number, number];
  failure: FuzzFailure | null;
  /** What the scenarios exercised (every run counted, shrinking included). */
  stats: FuzzStats;
}

/**
 * Batches in this thread (no hang detection: see fuzz-supervisor.ts for
 * that), the sides taking turns, until the time is up or a property fails.
 */
export function runFuzz(o: FuzzOptions): FuzzResult {
  const runsPer = o.runsPerBatch ?? 25;
  const end = performance.now() + o.seconds * 1000;
  const runs = noRuns();
  const stats = newFuzzStats();
  let b = 0;
  const minBatches = o.minBatches ?? 1;
  while ((b < minBatches || performance.now() < end) && (o.maxBatches === undefined || b < o.maxBatches)) {
    const side = o.sides[b % o.sides.length]!;
    const seed = (o.seed + b) >>> 0;
    const r = runBatch(side, seed, runsPer, stats);
    runs[side] += r.numRuns;
    b++;
    if (r.failure) return { batches: b, runs, seeds: [o.seed >>> 0, seed], failure: r.failure, stats };
  }
  return { batches: b, runs, seeds: [o.seed >>> 0, (o.seed + b - 1) >>> 0], failure: null, stats };
}

import { TX_PATHS, type RunConfig } from "./types.js";

/** Check a RunConfig that crossed a process boundary; throws naming the field. */
export function validateRunConfig(x: unknown): RunConfig {
  if (typeof x !== "object" || x === null) throw new Error("run config: not an object");
  const c = x as Record<string, unknown>;
  const int = (k: string, lo: number, hi: number): void => {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`run config: ${k}=${String(v)} must be an integer in ${lo}..${hi}`);
  };
  const bool = (k: string, nullable = false): void => {
    const v = c[k];
    if (typeof v !== "boolean" && !(nullable && v === null)) throw new Error(`run config: ${k}=${String(v)} must be true or false${nullable ? " or null" : ""}`);
  };
  if (c.kind !== "throughput" && c.kind !== "latency") throw new Error(`run config: kind=${String(c.kind)} must be throughput or latency`);
  int("burst", 1, 64);
  if (!TX_PATHS.includes(c.txPath as never)) throw new Error(`run config: txPath=${String(c.txPath)} must be one of ${TX_PATHS.join(", ")}`);
  int("frameSize", 64, 1518);
  bool("inOrder");
  bool("mrgRxbuf");
  bool("eventIdx", true);
  int("queueSize", 64, 4096);
  if (c.rate !== null && !(typeof c.rate === "number" && c.rate > 0 && c.rate <= 100e6)) throw new Error(`run config: rate=${String(c.rate)} must be null or in (0, 1e8]`);
  int("warmupMs", 0, 600_000);
  int("durationMs", 10, 600_000);
  int("memoryMb", 16, 4095);
  return c as unknown as RunConfig;
}

import { describe, expect, it } from "vitest";
import { until } from "@tpdk/testing/until";

describe("until", () => {
  it("resolves at once when the condition already holds, and after the look that finds it true", async () => {
    let looks = 0;
    await until(() => ++looks >= 1, 1000, "first look");
    expect(looks).toBe(1);
    looks = 0;
    await until(() => ++looks === 3, 1000, "third look", { every: 1 });
    expect(looks).toBe(3);
  });

  it("rejects after its bound, naming what it waited for, with the tail of the log", async () => {
    const t0 = Date.now();
    let looks = 0;
    const log = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    const err = await until(() => (looks++, false), 60, "a thing that never comes", { every: 5, log: () => log, logLines: 2 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(60);
    expect(err?.message).toBe("timed out after 60 ms waiting for a thing that never comes\nline 18\nline 19");
    expect(looks).toBeGreaterThan(1);
    const after = looks;
    await new Promise((r) => setTimeout(r, 20));
    expect(looks).toBe(after); // no look after the time-out
  });

  it("rejects at once when stop() gives a reason (a peer that exited), with the tail of the log", async () => {
    const t0 = Date.now();
    let looks = 0;
    const err = await until(() => false, 10_000, "a frame", { stop: () => (++looks === 3 ? "l2fwd exited (1)" : null), log: () => "a\nlast", logLines: 1 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe("l2fwd exited (1) while waiting for a frame\nlast");
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

// The soak (pnpm soak), short: two phases of l2fwd in this process with
// different TX paths, queue sizes, frame sizes, features and bursts; counter
// drift checked while traffic flows, exact conservation and no mbuf leak at
// the end of each phase. Its lcores load the compiled dist/ (the test command builds first).
import { describe, expect, it } from "vitest";
import { runSoak } from "@tpdk/scripts/soak";

describe("soak (5 s)", () => {
  it("no drift, every frame accounted for, no mbuf leaked", async () => {
    const lines: string[] = [];
    const r = await runSoak({ seconds: 5, phases: 2, rate: 10_000, seed: 20240601, log: (l) => lines.push(l) });
    expect(r.problems, lines.join("\n")).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.phases).toHaveLength(2);
    for (const p of r.phases) {
      expect(p.drained).toBe(true);
      expect(p.generated).toBe(6 * p.plan.count);
      expect(p.forwarded).toBeGreaterThan(0);
      expect(p.driftChecks).toBeGreaterThan(0);
    }
    // Both phases together ran every TX path.
    const modes = new Set(r.phases.flatMap((p) => p.plan.vdevs.map((v) => /tx_mode=(\w+)/.exec(v)![1])));
    expect([...modes].sort()).toEqual(["chained", "indirect", "push"]);
  });
});

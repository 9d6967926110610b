import { describe, expect, it } from "vitest";
import { renderMarkdown, renderText } from "../report/table.js";
import { bucketLabel, fakeJitterRun, jitterNote, jitterTable, jitterTarget } from "./report.js";
import { aggregateJitter } from "./stats.js";
import { JITTER_BUCKETS } from "./types.js";

describe("bucketLabel", () => {
  it("µs up to 100, ms above, open last bucket", () => {
    expect(JITTER_BUCKETS.map(([lo, hi]) => bucketLabel(lo, hi))).toEqual([
      "5–10 µs",
      "10–20 µs",
      "20–50 µs",
      "50–100 µs",
      "0.1–1 ms",
      "1–10 ms",
      "≥ 10 ms",
    ]);
  });
});

describe("jitter report", () => {
  const one = aggregateJitter([fakeJitterRun([0, 1], 5000, 0)])!;

  it("one row per CPU with every bucket, the quantiles and the GC count", () => {
    const t = jitterTable(one);
    expect(t.rows).toHaveLength(3);
    expect(t.rows[2]![0]).toBe("either");
    expect(t.header).toHaveLength(t.align.length);
    for (const r of t.rows) expect(r).toHaveLength(t.header.length);
    const cpu0 = fakeJitterRun([0, 1], 5000, 0).cpus[0]!;
    const row = t.rows[0]!;
    expect(row[0]).toBe("0");
    expect(row[t.header.indexOf("20–50 µs /s")]).toBe(String(Math.round(cpu0.perSecond[2]!)));
    expect(row[t.header.indexOf("max ms")]).toBe((cpu0.maxUs / 1000).toPrecision(2));
    expect(row[t.header.indexOf("GC")]).toBe("0");
    expect(renderMarkdown(t).split("\n")).toHaveLength(5);
    expect(renderText(t)).toContain("wait p99 µs");
  });

  it("quantiles at the recording threshold read '≤ 5', an unpinned thread says so", () => {
    const r = fakeJitterRun([0], 1000, 0);
    r.cpus[0]!.delayP99Us = 5;
    r.cpus[0]!.pinned = false;
    const row = jitterTable(aggregateJitter([r])!).rows[0]!;
    expect(row).toContain("≤ 5");
    expect(row[0]).toBe("0 (unpinned)");
  });

  it("the Targets line: per-CPU losses, met only when the merged stalls keep waits > 20 µs below 1 %", () => {
    const t = jitterTarget(one);
    const c = one.cpus;
    expect(t.measured).toContain(`loses ${c[0]!.lost20Pct.median.toPrecision(2)} / ${c[1]!.lost20Pct.median.toPrecision(2)} % of its time to stalls ≥ 20 µs`);
    expect(t.measured).toContain(`finds CPU 0 or 1 stalled for > 20 µs more ${one.either!.delayOver20Pct.median.toPrecision(2)} % of the time`);
    expect(t.measured).toContain("p99 ≤ 20 µs needs that below 1 %");
    expect(t.met).toBe(false); // the fake merged figure is 2.3 %
    const good = fakeJitterRun([0, 1], 5000, 0);
    good.either!.delayOver20Pct = 0.4;
    expect(jitterTarget(aggregateJitter([good])).met).toBe(true);
    // one CPU: judged on that CPU
    const single = fakeJitterRun([1], 5000, 0);
    expect(jitterTarget(aggregateJitter([single])).measured).toContain("finds CPU 1 stalled");
    expect(jitterTarget(null)).toMatchObject({ measured: "not measured", met: null });
  });

  it("the note gives both CPUs together and the probe's CPU share", () => {
    const n = jitterNote(one);
    expect(n).toContain("At least one CPU stalled (> 5 µs) 3.9 % of the time, all at once 0.30 %");
    expect(n).toContain("Probe CPU share 99 %");
    expect(n).toContain("1 run(s) of 5 s on CPUs 0 and 1");
  });
});

// The hostile-ring fuzz (pnpm fuzz), short: a few seconds of property runs in
// both directions, the device against random driver-written rings and the
// driver against a random, hostile device, on split and packed rings, in a
// worker with a hang watchdog.
// Fixed seed, so a failure here replays with pnpm fuzz -- --seed <seed>.
import { describe, expect, it } from "vitest";
import { superviseFuzz } from "@tpdk/scripts/fuzz-supervisor";

describe("hostile rings, both directions, split and packed (fuzz, 4 s, a batch per side at least)", () => {
  it("never throws, never hangs, writes only where allowed, loses no mbuf, accounts for every frame", async () => {
    const r = await superviseFuzz({ seconds: 4, seed: 424242, sides: ["device", "driver", "packed-device", "packed-driver"], runsPerBatch: 15, minBatches: 4 });
    if (r.failure) {
      expect.fail(`${r.failure.side} side, replay with: pnpm fuzz -- --side ${r.failure.side} --seed ${r.failure.seed} --runs ${r.failure.runs}\n${r.failure.report}`);
    }
    expect(r.runs.device).toBeGreaterThan(0);
    expect(r.runs.driver).toBeGreaterThan(0);
    // The scenarios did exercise both paths, good and bad.
    expect(r.stats.device.rxPackets).toBeGreaterThan(0);
    expect(r.stats.device.txPackets).toBeGreaterThan(0);
    expect(r.stats.device.chainErrors).toBeGreaterThan(0);
    expect(r.stats.driver.received).toBeGreaterThan(0);
    expect(r.stats.driver.sent).toBeGreaterThan(0);
    expect(r.stats.driver.ierrors).toBeGreaterThan(0);
    // Packed rings (§2.8): each side ran at least one batch, the driver counted the hostile writes.
    expect(r.runs["packed-device"]).toBeGreaterThan(0);
    expect(r.runs["packed-driver"]).toBeGreaterThan(0);
    expect(r.stats["packed-device"].rxPackets).toBeGreaterThan(0);
    expect(r.stats["packed-device"].txPackets).toBeGreaterThan(0);
    expect(r.stats["packed-driver"].received).toBeGreaterThan(0);
    expect(r.stats["packed-driver"].ierrors + r.stats["packed-driver"].oerrors).toBeGreaterThan(0);
  }, 120_000);
});

import { HDR_HEARTBEAT } from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { DeviceLiveness } from "./liveness.js";
import { frame, rig, toMbuf } from "@tpdk/testing/virtio-pmd";

/**
 * The heartbeat watchdog, driven with a synthetic clock against the fake
 * device (whose heartbeat moves only when the test bumps it).
 */
describe("DeviceLiveness", () => {
  it("alive while the heartbeat moves, dead after timeoutMs of silence, sticky", () => {
    let beat = 0;
    const l = new DeviceLiveness(() => beat, 500);
    expect(l.check(0)).toBe(true);
    for (let t = 100; t <= 2000; t += 100) {
      beat++;
      expect(l.check(t)).toBe(true);
    }
    for (let t = 2100; t <= 2400; t += 100) expect(l.check(t)).toBe(true);
    expect(l.check(2499)).toBe(true); // 499 ms of silence
    expect(l.check(2500)).toBe(false);
    expect(l.reason).toBe("no heartbeat for 500 ms");
    expect(l.deaths).toBe(1);
    beat++; // a stalled device that comes back is not trusted again
    expect(l.check(2600)).toBe(false);
    expect(l.deaths).toBe(1);
  });

  it("the first sample starts the clock: a slow first check is not a death", () => {
    const l = new DeviceLiveness(() => 7, 500);
    expect(l.check(10_000)).toBe(true);
    for (let t = 10_100; t < 10_500; t += 100) expect(l.check(t)).toBe(true);
    expect(l.check(10_500)).toBe(false);
  });

  it("a checker that was starved itself does not blame the device: one gap counts a quarter of the timeout", () => {
    const l = new DeviceLiveness(() => 7, 500);
    expect(l.check(0)).toBe(true);
    expect(l.check(50)).toBe(true);
    // Neither the checker nor the device ran for 900 ms (a loaded machine): 125 ms counted.
    expect(l.check(950)).toBe(true);
    expect(l.reason).toBe(null);
    // Then silent across checks at the app's pace: 175 + 325 = 500 ms counted.
    for (let t = 1000; t < 1275; t += 50) expect(l.check(t)).toBe(true);
    expect(l.check(1275)).toBe(false);
    expect(l.reason).toBe("no heartbeat for 1275 ms");
  });

  it("rejects a non-positive timeout", () => {
    expect(() => new DeviceLiveness(() => 0, 0)).toThrow(/must be positive/);
  });
});

describe("VirtioPort.checkDevice", () => {
  it("a silent device: link down without a trap, counted, stop/close make no trap and free every mbuf", () => {
    const r = rig({ pmd: { heartbeatTimeoutMs: 200 } });
    const hb = (r.dev.region + HDR_HEARTBEAT) >>> 2;
    expect(r.port.checkDevice(1000)).toBe(true);
    Atomics.add(r.mem.u32, hb, 1);
    expect(r.port.checkDevice(1150)).toBe(true);
    expect(r.port.linkStatus().up).toBe(true);
    // Something in both rings: RX buffers are posted; one TX packet the device never takes.
    expect(r.txq.txBurst(Uint32Array.of(toMbuf(r, frame(64, 1))), 1)).toBe(1);
    for (const t of [1200, 1250, 1300, 1349]) expect(r.port.checkDevice(t)).toBe(true);
    expect(r.port.checkDevice(1350)).toBe(false);
    expect(r.port.deviceFault).toBe("no heartbeat for 200 ms");
    const traps = r.transport.traps;
    expect(r.port.linkStatus().up).toBe(false);
    expect(r.port.info().linkUp).toBe(false);
    const x = r.port.xstats().find((s) => s.name === "device_not_answering");
    expect(x?.value).toBe(1);
    r.port.stop(); // would wait up to 1 s for the TX ring to drain, then reset the device
    expect(r.transport.traps).toBe(traps);
    expect(r.pool.available()).toBe(r.pool.size);
    expect(() => r.port.start()).toThrow(/device is not answering \(no heartbeat for 200 ms\)/);
    r.port.close();
    expect(r.transport.traps).toBe(traps);
  });

  it("statsReset takes the death counter as a baseline like any xstat", () => {
    const r = rig({ pmd: { heartbeatTimeoutMs: 10 } });
    r.port.checkDevice(0);
    r.port.checkDevice(50);
    r.port.statsReset();
    expect(r.port.xstats().find((s) => s.name === "device_not_answering")?.value).toBe(0);
    r.port.stop();
  });
});

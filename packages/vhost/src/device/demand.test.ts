import { describe, expect, it } from "vitest";
import { CTRL_LAUNCHED, CTRL_LAUNCH_MASK_LO, LCORE_ZONE, Memory, lcoreIdleIndex } from "@tpdk/eal";
import { DEMAND_FIRST_RELEASE_MS, DEMAND_RELEASE_ANYWAY_MS, DEMAND_RELEASE_MS, DemandWindow, type DemandDevice } from "./demand.js";
import { rxRefillThreshold } from "@tpdk/virtio";
import type { DeviceQueue } from "./virtqueue.js";

/** A device with one pair: RX queue of `rxSize` with `posted` buffers available, TX queue of `txSize`. */
function device(o: { txSize: number; rxSize?: number; posted?: number; onDemand?: boolean; active?: boolean; txEnabled?: boolean }) {
  const rx = { enabled: true, size: o.rxSize ?? 256, posted: o.posted ?? o.rxSize ?? 256, availableNow() { return this.posted; } };
  const tx = { enabled: o.txEnabled ?? true, size: o.txSize, availableNow: () => 0 };
  const d = { active: o.active ?? true, activePairs: 1, onDemand: o.onDemand ?? false, queues: [rx, tx] as unknown as DeviceQueue[] };
  return { d: d as DemandDevice, rx };
}

/**
 * A window on EAL memory whose launch runs the lcores in `mask`, with one
 * on-demand device that has produced 128 frames (ticks at 1 and 2, `posted`
 * RX buffers at the second); idle(id) counts an idle pass of lcore id.
 */
function launched(mask: number, posted = 256) {
  const mem = Memory.create(1 << 20);
  mem.reserve(LCORE_ZONE, 64 * 64, 64);
  const w = new DemandWindow();
  w.used = true;
  w.bindLcores(mem);
  Atomics.store(mem.i32, CTRL_LAUNCH_MASK_LO, mask);
  Atomics.store(mem.i32, CTRL_LAUNCHED, 1);
  const idle = (id: number) => Atomics.add(mem.i32, lcoreIdleIndex(mem, id), 1);
  const a = device({ txSize: 256, rxSize: 256, onDemand: true });
  w.tick([a.d], 1, 64);
  w.produced(128);
  a.rx.posted = posted;
  w.tick([a.d], 2, 64);
  return { w, a, idle };
}

/** The source produces the next 128 frames, the driver takes them (two ticks); returns the last tick's time. */
function nextWindow(w: DemandWindow, a: ReturnType<typeof device>, t: number): number {
  w.produced(128);
  a.rx.posted = 128;
  w.tick([a.d], ++t, 64);
  a.rx.posted = 256;
  w.tick([a.d], ++t, 64);
  return t;
}

describe("DemandWindow", () => {
  it("is half the smallest enabled TX queue of the active devices, sized at each tick", () => {
    const w = new DemandWindow();
    w.used = true;
    expect(w.window).toBe(0); // nothing produced before the first tick
    const a = device({ txSize: 1024, onDemand: true });
    const b = device({ txSize: 64 });
    const c = device({ txSize: 16, active: false });
    w.tick([a.d, b.d, c.d], 1, 64);
    expect(w.window).toBe(32);
    w.tick([device({ txSize: 64, txEnabled: false }).d], 2, 64);
    expect(w.window).toBe(64); // no TX queue at all: the RX burst
  });

  it("counts frames out: produced minus TX chains taken, never below 0", () => {
    const w = new DemandWindow();
    w.produced(30);
    w.consumed(10);
    expect(w.out).toBe(20);
    w.consumed(64); // TX chains that were not the source's frames
    expect(w.out).toBe(0);
  });

  it("with launched lcores, counted not timed: held while an lcore that took the frames is not seen idle, released a tick after every lcore went idle", () => {
    const { w, a, idle } = launched(0b1001, 128); // lcores 0 and 3; the frames still in the RX ring
    let t = 2;
    a.rx.posted = 256; // taken by an lcore, which is then descheduled holding them
    w.tick([a.d], ++t, 64);
    for (const end = t + 3 * DEMAND_FIRST_RELEASE_MS; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(128); // however long: nothing counted says the lcore is idle
    idle(0);
    for (const end = t + 3 * DEMAND_FIRST_RELEASE_MS; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(128); // lcore 3 has not been idle
    idle(3);
    w.tick([a.d], ++t, 64);
    expect(w.out).toBe(128); // seen idle this tick: a chain it sent just before may be taken by the next pass
    w.tick([a.d], ++t, 64);
    expect(w.out).toBe(0);
    // The next window: the same count, no time.
    t = nextWindow(w, a, t);
    w.tick([a.d], ++t, 64);
    idle(0);
    idle(3);
    w.tick([a.d], ++t, 64);
    expect(w.out).toBe(128);
    w.tick([a.d], ++t, 64);
    expect(w.out).toBe(0);
  });

  it("with launched lcores: a transmit chain after the frames were taken means forwarding (no count releases it)", () => {
    const { w, a, idle } = launched(1);
    let t = 2;
    w.tick([a.d], ++t, 64);
    idle(0);
    w.consumed(100); // the flush before that idle pass: taken by a pass before the next tick
    w.tick([a.d], ++t, 64);
    for (const end = t + 100; t < end; t++) {
      idle(0);
      w.tick([a.d], t, 64);
    }
    expect(w.out).toBe(28);
  });

  it("receive-only: released once the driver has taken the frames and nothing moved (first after a longer wait)", () => {
    const w = new DemandWindow();
    w.used = true;
    const a = device({ txSize: 256, rxSize: 256, onDemand: true });
    let t = 1;
    w.tick([a.d], t, 64);
    w.produced(128);
    a.rx.posted = 128; // the frames sit in the RX ring: the lcores have not polled yet
    for (const end = t + 3 * DEMAND_FIRST_RELEASE_MS; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(128);
    // The driver takes them and re-posts: progress, the idle time starts again.
    a.rx.posted = 256;
    w.tick([a.d], ++t, 64);
    for (const end = t + DEMAND_FIRST_RELEASE_MS - 1; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(128); // a forwarding lcore may just be descheduled
    for (const end = t + 2; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(0);
    // Later windows: DEMAND_RELEASE_MS.
    t = nextWindow(w, a, t);
    for (const end = t + DEMAND_RELEASE_MS + 1; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(0);
  });

  it("receive-only: a driver holding back all but one of its refill threshold's buffers has taken the frames", () => {
    const w = new DemandWindow();
    w.used = true;
    const a = device({ txSize: 256, rxSize: 256, onDemand: true });
    let t = 1;
    w.tick([a.d], t, 64);
    w.produced(128);
    a.rx.posted = 128; // a whole window in the RX ring, not taken: held
    for (const end = t + 3 * DEMAND_FIRST_RELEASE_MS; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(128);
    // Taken; the refill waits for rxRefillThreshold(256) = 128 free: 127 stay unposted.
    a.rx.posted = 256 - (rxRefillThreshold(256) - 1);
    w.tick([a.d], ++t, 64);
    for (const end = t + DEMAND_FIRST_RELEASE_MS + 1; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(0); // not DEMAND_RELEASE_ANYWAY_MS
  });

  it("receive-only without lcores: a window smaller than the refill thresholds waiting in the RX rings is held (TX 128 / RX 256; two RX queues behind TX 256)", () => {
    for (const o of [{ txSize: 128, rx: [256] }, { txSize: 256, rx: [256, 256] }]) {
      const w = new DemandWindow();
      w.used = true;
      const rxs = o.rx.map((size) => ({ enabled: true, size, posted: size, availableNow() { return this.posted; } }));
      const tx = { enabled: true, size: o.txSize, availableNow: () => 0 };
      const d = { active: true, activePairs: rxs.length, onDemand: true, queues: rxs.flatMap((rx) => [rx, tx]) as unknown as DeviceQueue[] } as DemandDevice;
      let t = 1;
      w.tick([d], t, 64);
      const window = o.txSize >>> 1;
      expect(w.window).toBe(window);
      w.produced(window);
      rxs[0]!.posted -= window; // the whole window waits in the first RX ring: the application has not polled yet
      for (const end = t + 3 * DEMAND_FIRST_RELEASE_MS; t < end; t++) w.tick([d], t, 64);
      expect(w.out).toBe(window);
    }
  });

  it("forwarding: a pause is not a release until DEMAND_RELEASE_ANYWAY_MS", () => {
    const w = new DemandWindow();
    w.used = true;
    const a = device({ txSize: 256, rxSize: 256, onDemand: true });
    let t = 1;
    w.tick([a.d], t, 64);
    w.produced(128);
    w.consumed(64); // frames come back: the application forwards
    w.tick([a.d], ++t, 64);
    for (const end = t + 3 * DEMAND_FIRST_RELEASE_MS; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(64);
    for (const end = t + DEMAND_RELEASE_ANYWAY_MS; t < end; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(0);
  });

  it("is released after DEMAND_RELEASE_ANYWAY_MS without progress whatever the rings hold", () => {
    const w = new DemandWindow();
    w.used = true;
    const a = device({ txSize: 256, rxSize: 256, posted: 0, onDemand: true });
    w.tick([a.d], 1, 64);
    w.produced(128);
    let t = 2;
    for (; t < DEMAND_RELEASE_ANYWAY_MS; t++) w.tick([a.d], t, 64);
    expect(w.out).toBe(128);
    w.tick([a.d], t + 2, 64);
    expect(w.out).toBe(0);
  });

  it("a gap between ticks (this thread descheduled) is not idle time", () => {
    const w = new DemandWindow();
    w.used = true;
    const a = device({ txSize: 256, rxSize: 256, onDemand: true });
    w.tick([a.d], 1, 64);
    w.produced(128);
    w.consumed(64);
    w.tick([a.d], 2, 64);
    w.tick([a.d], 3 + 2 * DEMAND_RELEASE_ANYWAY_MS, 64); // one tick much later
    expect(w.out).toBe(64);
  });
});

import * as v from "@tpdk/virtio";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Fixture, deviceFixture } from "@tpdk/testing/vhost";
import { PUBLISH_FENCE_ENTRIES } from "./virtqueue.js";

// DeviceQueue.publishBatched (the built-in device's data path): on x86 used.idx is stored plainly
// and the notification check behind a barrier runs every PUBLISH_FENCE_ENTRIES entries, at the
// device's tick and before the thread sleeps (NetDevice.fenceUsed). Elsewhere it is publish().
const X86 = process.arch === "x64" || process.arch === "ia32";
const OFFERED = deviceFixture({ noStart: true }).dev.offered;
const NO_EVENT_IDX = v.withFeature(OFFERED, v.VIRTIO_F_EVENT_IDX, false);

function interrupts(f: Fixture, q: number): number {
  return Atomics.load(f.mem.i32, (f.dev.transportOffset + v.interruptWordOffset(q)) >>> 2);
}

/** Make `n` single-descriptor TX chains available (heads from `start`). */
function transmit(f: Fixture, n: number, start = 0): void {
  const tx = f.rings[1]!;
  for (let i = 0; i < n; i++) {
    const a = f.arena.alloc(72);
    tx.setDesc((start + i) % tx.size, a, 72);
    tx.add((start + i) % tx.size);
  }
  tx.publish();
}

/** The device's tick (housekeeping, ~1 ms): its fenced notification check. */
function tick(f: Fixture): void {
  for (const d of f.loop.devices) d.tick();
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.runIf(X86)("the data path's used.idx publish (x86: plain store, fenced check batched)", () => {
  it("stores used.idx without an Atomics.store per pass until PUBLISH_FENCE_ENTRIES entries are unfenced", () => {
    const f = deviceFixture({ queueSize: 256, device: { burst: 64 } });
    const tx = f.rings[1]!;
    const usedIdxI = (tx.used + v.USED_IDX) >>> 1;
    const store = vi.spyOn(Atomics, "store");
    const usedStores = (): number => store.mock.calls.filter((c) => (c[0] as unknown) === f.mem.u16 && c[1] === usedIdxI).length;
    let head = 0;
    for (let pass = 0; pass < PUBLISH_FENCE_ENTRIES / 64 - 1; pass++) {
      transmit(f, 64, head);
      head += 64;
      f.pass();
    }
    expect(tx.usedIdx()).toBe(PUBLISH_FENCE_ENTRIES - 64);
    expect(usedStores()).toBe(0);
    transmit(f, 64, head);
    f.pass();
    expect(tx.usedIdx()).toBe(PUBLISH_FENCE_ENTRIES);
    expect(usedStores()).toBe(1);
  });

  it("a used_event re-armed behind the plain check's back gets its interrupt at the fenced check of the tick (EVENT_IDX)", () => {
    const f = deviceFixture({ queueSize: 64, device: { burst: 8 } });
    const tx = f.rings[1]!;
    tx.setUsedEvent(0xffff); // polling: far behind
    transmit(f, 8);
    f.pass();
    transmit(f, 8, 8);
    f.pass();
    expect(tx.usedIdx()).toBe(16);
    expect(interrupts(f, 1)).toBe(0);
    // The driver re-armed used_event at entry 3 while the device's plain read still saw the old value
    // (modelled: set after the passes): the fenced check covers every entry since the last one.
    tx.setUsedEvent(3);
    tick(f);
    expect(interrupts(f, 1)).toBe(1);
    // Nothing published since: the next fenced check asks nothing.
    tick(f);
    expect(interrupts(f, 1)).toBe(1);
  });

  it("NO_INTERRUPT cleared behind the plain check's back: the interrupt comes before the thread sleeps (no EVENT_IDX)", () => {
    const f = deviceFixture({ features: NO_EVENT_IDX });
    const tx = f.rings[1]!;
    tx.setAvailFlags(v.VRING_AVAIL_F_NO_INTERRUPT);
    transmit(f, 2);
    f.pass();
    expect(tx.usedIdx()).toBe(2);
    expect(interrupts(f, 1)).toBe(0);
    tx.setAvailFlags(0);
    f.loop.setNotify(true); // the loop's last step before it sleeps on the doorbell
    expect(interrupts(f, 1)).toBe(1);
  });

  it("the publish that reaches PUBLISH_FENCE_ENTRIES unfenced entries checks the whole range behind the barrier", () => {
    const f = deviceFixture({ queueSize: 256, device: { burst: 64 } });
    const tx = f.rings[1]!;
    tx.setUsedEvent(0xffff);
    let head = 0;
    for (let pass = 0; pass < PUBLISH_FENCE_ENTRIES / 64 - 1; pass++) {
      transmit(f, 64, head);
      head += 64;
      f.pass();
    }
    expect(interrupts(f, 1)).toBe(0);
    tx.setUsedEvent(10); // inside the first pass's entries, long published
    transmit(f, 64, head);
    f.pass();
    expect(interrupts(f, 1)).toBe(1);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GuestMemory } from "./guest-memory.js";
import { PackedDeviceQueue } from "./packed-virtqueue.js";
import { DeviceQueue } from "./virtqueue.js";
import { assertProperty } from "@tpdk/testing/property";

const BYTES = 64 << 10;
const RING = 0x1000;

/** A packed ring of `size` on its own memory (one region at guest address 0). */
function ring(size: number) {
  const sab = new SharedArrayBuffer(BYTES);
  const views = { u8: new Uint8Array(sab), u16: new Uint16Array(sab), u32: new Uint32Array(sab) };
  const gm = GuestMemory.regions(views, [{ addr: 0, size: BYTES, offset: 0 }]);
  const q = new PackedDeviceQueue(new DeviceQueue(gm, 0, 1024));
  q.enableAt(size, RING, RING + 16 * size, RING + 16 * size + 4);
  q.configure(true, false);
  return { views, q };
}

/** What addUsed() and addUsedRun() write: the ring's bytes and the queue's used-side fields. */
function state(r: ReturnType<typeof ring>, size: number) {
  const q = r.q as unknown as Record<string, number>;
  return {
    ring: Array.from(r.views.u8.subarray(RING, RING + 16 * size + 8)),
    fields: ["usedPos", "usedWrap", "pendPos", "pubPos", "pubWrap", "firstFlagsI", "firstFlags"].map((k) => q[k]),
  };
}

describe("PackedDeviceQueue.addUsedRun (the RX fast run's used descriptors)", () => {
  it("writes what addUsed(id, len, 1) for each buffer in turn writes, across wraps and publishes", () => {
    // Bounded (@tpdk/testing/property): a case ~1.2 ms alone, ~21 ms with two CPU hogs at autogroup -10
    // (session 29); at least 50 cases (~60 ms of CPU alone).
    assertProperty(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.array(fc.tuple(fc.nat(0xffff), fc.oneof(fc.constant(0), fc.nat(9000))), { maxLength: 40 }), fc.boolean()), { minLength: 1, maxLength: 30 }),
        (size, steps) => {
          const a = ring(size);
          const b = ring(size);
          const ids = new Uint32Array(64);
          const lens = new Uint32Array(64);
          for (const [run, publish] of steps) {
            const n = Math.min(run.length, size); // a pass never returns more than the ring
            for (let k = 0; k < n; k++) {
              ids[k] = run[k]![0];
              lens[k] = run[k]![1];
              a.q.addUsed(run[k]![0], run[k]![1], 1);
            }
            b.q.addUsedRun(ids, lens, n);
            expect(state(b, size)).toEqual(state(a, size));
            if (publish) {
              expect(b.q.publish()).toBe(a.q.publish());
              expect(state(b, size)).toEqual(state(a, size));
            }
          }
        },
      ),
      { numRuns: 200, seed: 2909, limitMs: 20_000, minCases: 50 },
    );
  }, 60_000);
});

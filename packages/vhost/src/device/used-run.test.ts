import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GuestMemory } from "./guest-memory.js";
import { DeviceQueue } from "./virtqueue.js";
import { assertProperty } from "@tpdk/testing/property";

const BYTES = 64 << 10;
const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;

/**
 * A split ring of `size` (a power of two) on its own memory (one region at guest address 0), its
 * used entries' bytes `fill` first (the driver's memory: whatever it held), resumed at used.idx
 * `idx`. `u32` replaces the queue's word view (a counting Proxy).
 */
function ring(size: number, fill: number, idx = 0, u32?: (v: Uint32Array) => Uint32Array) {
  const sab = new SharedArrayBuffer(BYTES);
  const plain = new Uint32Array(sab);
  const views = { u8: new Uint8Array(sab), u16: new Uint16Array(sab), u32: u32 ? u32(plain) : plain };
  views.u8.fill(fill, USED + 4, USED + 4 + 8 * size);
  views.u16[(USED + 2) >>> 1] = idx;
  const q = new DeviceQueue(GuestMemory.regions(views, [{ addr: 0, size: BYTES, offset: 0 }]), 0, 1024);
  q.size = size;
  q.enableAt(DESC, AVAIL, USED);
  q.resume(0);
  return { u8: views.u8, plain, q };
}

/** The used ring's bytes (flags, idx, entries, avail_event) and the queue's used-side fields. */
function state(r: ReturnType<typeof ring>, size: number) {
  return { ring: Array.from(r.u8.subarray(USED, USED + 4 + 8 * size + 2)), fields: [r.q.usedIdx, r.q.pending] };
}

/** A view that records the word indices stored through it; loads pass through. */
function counting(stores: number[]): (v: Uint32Array) => Uint32Array {
  return (v) =>
    new Proxy(v, {
      get: (t, k) => {
        const x = Reflect.get(t, k, t) as unknown;
        return typeof x === "function" ? (x as (...a: unknown[]) => unknown).bind(t) : x;
      },
      set: (t, k, x) => {
        stores.push(Number(k));
        t[Number(k)] = x as number;
        return true;
      },
    });
}

describe("DeviceQueue.addUsedRunUnlessEqual (net_vhost's split used runs)", () => {
  it("leaves the ring and the queue as addUsedRun does, whatever the used ring held, across wraps and publishes", () => {
    // Bounded (@tpdk/testing/property), as packed-used-run.test.
    assertProperty(
      fc.property(
        fc.constantFrom(1, 2, 4, 8, 16, 32),
        fc.nat(0xff),
        fc.nat(0xffff),
        fc.array(fc.tuple(fc.array(fc.tuple(fc.nat(0xffff), fc.oneof(fc.constant(0), fc.nat(9000), fc.constant(0xffffffff))), { maxLength: 32 }), fc.boolean()), { minLength: 1, maxLength: 30 }),
        (size, fill, idx, steps) => {
          const a = ring(size, fill, idx);
          const b = ring(size, fill, idx);
          const ids = new Uint32Array(32);
          const lens = new Uint32Array(32);
          for (const [run, publish] of steps) {
            const n = Math.min(run.length, size); // a burst never returns more than the ring
            for (let k = 0; k < n; k++) {
              ids[k] = run[k]![0];
              lens[k] = run[k]![1];
            }
            a.q.addUsedRun(ids, lens, n);
            b.q.addUsedRunUnlessEqual(ids, lens, n);
            expect(state(b, size)).toEqual(state(a, size));
            if (publish) {
              expect(b.q.publish()).toBe(a.q.publish());
              expect(state(b, size)).toEqual(state(a, size));
            }
          }
        },
      ),
      { numRuns: 200, seed: 3707, limitMs: 20_000, minCases: 50 },
    );
  }, 60_000);

  it("stores only the words that differ: a lap with the same ids and lens stores none (an IN_ORDER front-end at a fixed frame size)", () => {
    const stores: number[] = [];
    const r = ring(4, 0xff, 0, counting(stores));
    const e = (USED + 4) >>> 2; // the first entry's id word
    const ids = Uint32Array.of(0, 1, 2, 3);
    const lens = Uint32Array.of(76, 76, 76, 76);
    // First lap over 0xff bytes: every word differs.
    r.q.addUsedRunUnlessEqual(ids, lens, 4);
    expect(stores).toEqual([e, e + 1, e + 2, e + 3, e + 4, e + 5, e + 6, e + 7]);
    r.q.publish();
    stores.length = 0;
    // The next lap, the same entries: only used.idx (publish's Atomics.store, not through the view's set).
    r.q.addUsedRunUnlessEqual(ids, lens, 4);
    expect(stores).toEqual([]);
    r.q.publish();
    // One frame longer, one id the driver scribbled over meanwhile: those two words only.
    lens[2] = 80;
    r.plain[e + 6] = 0xdead;
    r.q.addUsedRunUnlessEqual(ids, lens, 4);
    expect(stores).toEqual([e + 5, e + 6]);
    expect(Array.from(r.plain.subarray(e, e + 8))).toEqual([0, 76, 1, 76, 2, 80, 3, 76]);
  });
});

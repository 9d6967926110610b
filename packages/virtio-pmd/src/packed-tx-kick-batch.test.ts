import { RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_ENABLE } from "@tpdk/virtio";
import { afterEach, describe, expect, it, vi } from "vitest";
import { packedRig, storeBufferModel } from "@tpdk/testing/virtio-pmd";
import { Q_NOTIFY, Q_PACKED_FENCED, Q_PACKED_PUBLISHED, Q_USED } from "./layout.js";
import type { VirtioPmdOptions } from "./options.js";
import { TX_FENCE_FRAMES } from "./queue-base.js";
import { txKickBackstop } from "./tx-backstop.js";

/**
 * The packed TX kick check per batch (PackedTxQueue.publish), the packed twin of
 * tx-kick-batch.test.ts: on x86 the head descriptor's flags are stored plainly and the device event
 * suppression structure (§2.8.10) read without a barrier; the fenced check (an Atomics.store of the
 * zone's Q_PACKED_FENCED word, then the read) runs once TX_FENCE_FRAMES descriptors are unfenced,
 * at fence() (txFence) and from the main thread's txKickBackstop (Q_PACKED_PUBLISHED against
 * Q_PACKED_FENCED). The store -> load race it guards against (a device that re-enabled
 * notifications while our flags store sat in the store buffer, and went to sleep) cannot happen on
 * one thread, so the device's change of its event structure is modelled as a store the driver's
 * plain loads do not see until the driver runs its barrier: applied at the fenced check's
 * Atomics.store, or by the test ("the store buffer drained") for the main thread's backstop. The
 * device (the real device core, stepped by hand) only consumes what is sent; the event structure is
 * written here. Elsewhere than x86 the publish keeps a fenced check per burst, so these run on x86.
 */
const X86 = process.arch === "x64" || process.arch === "ia32";
/** The fenced check's threshold, and a ring of at least two of it (the threshold is at most the ring). */
const F = TX_FENCE_FRAMES;
const SIZE = Math.max(64, 2 * F);

/** pos | wrap << 15: the off_wrap format. */
const at = (pos: number, wrap: number) => pos | (wrap << 15);
/** The position `k` descriptors after `p` (off_wrap format), the wrap counter flipping at the ring's end. */
function plus(p: number, k: number): number {
  let pos = (p & 0x7fff) + k;
  let wrap = p >>> 15;
  while (pos >= SIZE) {
    pos -= SIZE;
    wrap ^= 1;
  }
  return at(pos, wrap);
}
/** The same position in the other lap (the wrap counter the range does not have there). */
const otherLap = (p: number) => p ^ 0x8000;

function kickRig(pmd: VirtioPmdOptions, burnPrimes = true) {
  const s = packedRig(SIZE, [], { inOrder: true, ...pmd });
  const u32 = s.mem.u32;
  const zw = s.zoneOf(true) >>> 2;
  const evH = u32[zw + (Q_USED >>> 2)]! >>> 1;
  const notifyI = u32[zw + (Q_NOTIFY >>> 2)]! >>> 2;
  const fencedW = zw + (Q_PACKED_FENCED >>> 2);
  // The device's change of its event structure applies at the driver's next barrier (see above).
  const buffer = storeBufferModel((a, i) => a === u32 && i === fencedW);
  vi.spyOn(Atomics, "store").mockImplementation(buffer.store);
  /** The device's event structure (a plain write: the device's side, seen by the driver's plain loads). */
  const setEvent = (flags: number, offWrap = 0) => {
    s.mem.u16[evH] = offWrap;
    s.mem.u16[evH + 1] = flags;
  };
  /** Notifications of the TX queue: the lcore's kicks and the main thread's backstop kicks. */
  const notifies = () => s.mem.i32[notifyI]!;
  /** The device uses what was sent, the driver takes it back. */
  const drain = () => {
    s.pass();
    s.txq.cleanup();
  };
  /** A burst of `n` 64-byte frames (all taken). */
  const burst = (n: number) => {
    const arr = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      arr[i] = s.pool.alloc();
      s.mbufs.append(arr[i]!, 60);
    }
    expect(s.txq.txBurst(arr, n)).toBe(n);
  };
  const fenced = () => u32[fencedW]!;
  const published = () => u32[zw + (Q_PACKED_PUBLISHED >>> 2)]!;
  // The priming first (a fenced check in every publish while it lasts, see PackedTxQueue.publish):
  // publishes with kicks suppressed, the device using each.
  setEvent(RING_EVENT_FLAGS_DISABLE);
  for (let i = 0; burnPrimes && s.txq.kickPrimesLeft !== 0; i++) {
    expect(i).toBeLessThan(64); // no kicks: each publish uses one priming run
    burst(1);
    drain();
  }
  buffer.resetFences();
  return {
    s,
    setEvent,
    notifies,
    drain,
    burst,
    fences: buffer.fences,
    fenced,
    published,
    /** With kicks suppressed, send until the ring position is `pos`, fence (fence()) and drain: returns the fenced position. */
    fencedAt: (pos: number) => {
      setEvent(RING_EVENT_FLAGS_DISABLE);
      for (let t = 0; ; t++) {
        const k = (pos - (published() & 0x7fff) + SIZE) % SIZE;
        if (k === 0) break;
        expect(t).toBeLessThan(SIZE); // the published position moves with every burst
        burst(Math.min(k, 32));
        drain();
      }
      s.txq.fence();
      expect(fenced()).toBe(published());
      buffer.resetFences();
      return fenced();
    },
    later: buffer.later,
    drained: buffer.drained,
    close: () => {
      drain();
      s.port.stop();
      expect(s.pool.available()).toBe(s.pool.size);
      s.port.close();
    },
  };
}

const noEventIdx: VirtioPmdOptions = { eventIdx: false };

describe.runIf(X86)("packed TX: the kick check fenced once per batch (x86)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("the thresholds these tests assume: a fenced check within one burst, a ring of two of them", () => {
    expect(F).toBeGreaterThanOrEqual(16);
    expect(F).toBeLessThanOrEqual(64);
  });

  it("the priming covers the new branches: while primed every publish runs the plain check and the fenced check", () => {
    const k = kickRig(noEventIdx, false);
    expect(k.s.info.features).toContain("RING_PACKED");
    const n0 = k.notifies();
    let pos = at(0, 1);
    for (let i = 1; i <= 10; i++) {
      if (i === 5) {
        // The plain check runs too, even for a burst of TX_FENCE_FRAMES (which goes straight to the
        // fenced check once primed): it reads ENABLE (stale: the device disabled notifications, seen
        // only at the fenced check's barrier) and kicks, where the fenced check alone would not.
        k.setEvent(RING_EVENT_FLAGS_ENABLE);
        k.later(() => k.setEvent(RING_EVENT_FLAGS_DISABLE));
      }
      const n = i === 5 ? F : 1;
      k.burst(n);
      pos = plus(pos, n);
      expect(k.fences()).toBe(i);
      expect(k.fenced()).toBe(pos);
      expect(k.published()).toBe(pos);
      expect(k.notifies()).toBe(n0 + (i >= 5 ? 1 : 0)); // primed runs, no kicks but that one
      k.drain();
    }
    // Each publish that did not kick used one priming run.
    expect(k.s.txq.kickPrimesLeft).toBe(64 - 9);
    k.close();
  });

  it("no barrier per publish: a fenced check every TX_FENCE_FRAMES descriptors, none while the device disables notifications", () => {
    const k = kickRig(noEventIdx);
    const start = k.fenced();
    expect(k.published()).toBe(start);
    const n0 = k.notifies();
    for (let i = 1; i < F; i++) {
      k.burst(1);
      if (i % 8 === 0) k.drain();
    }
    expect(k.fences()).toBe(0);
    expect(k.fenced()).toBe(start);
    expect(k.published()).toBe(plus(start, F - 1));
    k.burst(1);
    expect(k.fences()).toBe(1);
    expect(k.fenced()).toBe(plus(start, F));
    k.s.txq.fence(); // all fenced: nothing to do
    expect(k.fences()).toBe(1);
    expect(txKickBackstop(k.s.mem, 0)).toBe(0);
    // A burst of TX_FENCE_FRAMES goes to the fenced check at once: one barrier per burst.
    k.drain();
    k.burst(F);
    expect(k.fences()).toBe(2);
    expect(k.fenced()).toBe(plus(start, 2 * F));
    expect(k.notifies()).toBe(n0);
    k.close();
  });

  it("without EVENT_IDX: a device that re-enables notifications unseen by the unfenced check gets its kick at the next fenced check", () => {
    const k = kickRig(noEventIdx);
    k.burst(1);
    const n0 = k.notifies();
    // The device enables notifications and sleeps; the driver's plain loads still read DISABLE.
    k.later(() => k.setEvent(RING_EVENT_FLAGS_ENABLE));
    for (let i = 2; i < F; i++) {
      k.burst(1);
      if (i % 8 === 0) k.drain();
    }
    expect(k.notifies()).toBe(n0);
    k.burst(1);
    expect(k.notifies()).toBe(n0 + 1);
    // From now on the plain check sees ENABLE: a kick per publish, no fenced check.
    k.drain();
    k.burst(1);
    expect(k.notifies()).toBe(n0 + 2);
    expect(k.fences()).toBe(1);
    expect(k.fenced()).toBe(k.published()); // the kick fenced it
    k.close();
  });

  it("the idle call (fence, txFence) runs the fenced check at once", () => {
    const k = kickRig(noEventIdx);
    k.burst(1);
    const n0 = k.notifies();
    k.later(() => k.setEvent(RING_EVENT_FLAGS_ENABLE));
    k.burst(1);
    k.burst(3);
    expect(k.notifies()).toBe(n0);
    k.s.txq.fence();
    expect(k.notifies()).toBe(n0 + 1);
    expect(k.fenced()).toBe(k.published());
    k.s.txq.fence(); // nothing unfenced since
    expect(k.notifies()).toBe(n0 + 1);
    expect(k.fences()).toBe(1);
    k.close();
  });

  it.each([
    { lap: "the range's", kicks: 1 },
    { lap: "the other", kicks: 0 },
  ])("EVENT_IDX (desc event): the fenced check tests the whole range since the last one, over several bursts and a wrap counter flip ($lap lap: $kicks kick)", ({ kicks }) => {
    const k = kickRig({});
    expect(k.s.info.features).toContain("EVENT_IDX");
    // Fenced half a threshold before the ring's end: the range below flips the wrap counter.
    const p0 = k.fencedAt(SIZE - F / 2);
    // The device's event descriptor just behind p0, one lap on: no range below reaches it.
    k.setEvent(RING_EVENT_FLAGS_DESC, plus(p0, SIZE - 1));
    const n0 = k.notifies();
    // The device had moved its event to the third descriptor after the flip (this lap's or the
    // other's) and slept, unseen by the plain checks.
    const ev = plus(p0, F / 2 + 2);
    k.later(() => k.setEvent(RING_EVENT_FLAGS_DESC, kicks === 1 ? ev : otherLap(ev)));
    for (let i = 1; i < F; i++) {
      k.burst(1);
      if (i % 4 === 0) k.drain();
    }
    expect(k.published()).toBe(plus(p0, F - 1));
    expect(k.notifies()).toBe(n0);
    expect(k.fences()).toBe(0);
    k.burst(1); // the fenced check over F descriptors from p0
    expect(k.fences()).toBe(1);
    expect(k.notifies()).toBe(n0 + kicks);
    k.close();
  });

  it("EVENT_IDX: the plain check also tests the whole unfenced range (an event descriptor behind the last burst, after the wrap flip)", () => {
    const k = kickRig({});
    const p0 = k.fencedAt(SIZE - F / 2);
    k.setEvent(RING_EVENT_FLAGS_DESC, plus(p0, SIZE - 1));
    const n0 = k.notifies();
    for (let i = 0; i < F / 2 + 4; i++) k.burst(1);
    k.drain();
    expect(k.notifies()).toBe(n0);
    k.setEvent(RING_EVENT_FLAGS_DESC, plus(p0, F / 2 + 1)); // visible now, but behind this publish's own step
    k.burst(1);
    expect(k.notifies()).toBe(n0 + 1);
    expect(k.fences()).toBe(0);
    expect(k.fenced()).toBe(k.published()); // the kick fenced it
    k.close();
  });

  it("the main thread's backstop kicks an application that never calls txFence, once the flags are visible", () => {
    const k = kickRig(noEventIdx);
    k.burst(1);
    const n0 = k.notifies();
    const f0 = k.fenced();
    expect(k.published()).not.toBe(f0);
    expect(txKickBackstop(k.s.mem, 0)).toBe(0); // unfenced, but the device disables notifications
    k.later(() => k.setEvent(RING_EVENT_FLAGS_ENABLE));
    k.burst(1);
    expect(k.notifies()).toBe(n0);
    k.drained();
    expect(k.fenced()).toBe(f0);
    expect(txKickBackstop(k.s.mem, 0)).toBe(1);
    expect(k.notifies()).toBe(n0 + 1);
    k.s.txq.fence();
    expect(k.notifies()).toBe(n0 + 2); // the lcore's own check kicks too (a spurious kick is harmless)
    expect(txKickBackstop(k.s.mem, 0)).toBe(0); // fenced now
    k.close();
  });

  it("EVENT_IDX: the backstop measures the range between the fenced and the published positions across the wrap flip", () => {
    const k = kickRig({});
    const p0 = k.fencedAt(SIZE - 4);
    k.setEvent(RING_EVENT_FLAGS_DESC, plus(p0, SIZE - 1));
    k.burst(3);
    k.burst(3); // six descriptors from p0, two of them after the flip
    expect(k.published()).toBe(plus(p0, 6));
    expect(k.fenced()).toBe(p0);
    const n0 = k.notifies();
    const cases: [number, number][] = [
      [otherLap(plus(p0, 1)), 0], // the other lap's second descriptor: not in the range
      [plus(p0, 6), 0], // just past it
      [plus(p0, 5), 1], // in it, after the flip
      [plus(p0, 1), 1], // in it, before the flip
      [otherLap(plus(p0, 5)), 0],
    ];
    for (const [ev, want] of cases) {
      k.setEvent(RING_EVENT_FLAGS_DESC, ev);
      expect([ev, txKickBackstop(k.s.mem, 0)]).toEqual([ev, want]);
    }
    k.setEvent(RING_EVENT_FLAGS_DISABLE);
    expect(txKickBackstop(k.s.mem, 0)).toBe(0);
    k.setEvent(RING_EVENT_FLAGS_ENABLE);
    expect(txKickBackstop(k.s.mem, 0)).toBe(1);
    expect(k.notifies()).toBe(n0 + 3);
    k.close();
  });
});

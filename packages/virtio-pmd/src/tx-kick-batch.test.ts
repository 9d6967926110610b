import { AVAIL_IDX, VIRTIO_F_EVENT_IDX, VRING_USED_F_NO_NOTIFY, withFeature } from "@tpdk/virtio";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ALL_FEATURES, frame, rig, storeBufferModel, toMbuf, type RigOptions } from "@tpdk/testing/virtio-pmd";
import { PORT_TABLE_ZONE, P_TXQ_ZONES, Q_FENCED_AVAIL, portEntry } from "./layout.js";
import { TX_FENCE_FRAMES } from "./queue-base.js";
import { txKickBackstop } from "./tx-backstop.js";

/**
 * The split TX kick check per batch (QueueBase.publishTx): on x86 avail.idx is stored plainly and
 * the suppression fields read without a barrier; the fenced check runs every TX_FENCE_FRAMES
 * frames, at fence() (txFence) and from the main thread's txKickBackstop. The store -> load race
 * it guards against (a device that re-enabled notifications while our index store sat in the
 * store buffer, and went to sleep) cannot happen on one thread, so the device's field change is
 * modelled as a store that the driver's plain loads do not see until the driver runs a barrier:
 * it is applied at the driver's Atomics.store of the TX avail.idx (the fenced check's xchg), or
 * by the test ("the store buffer drained") for the main thread's backstop. Elsewhere than x86 the
 * publish keeps a fenced check per burst (nothing deferred), so these run on x86 only.
 */
const X86 = process.arch === "x64" || process.arch === "ia32";

function kickRig(o: RigOptions, burnPrimes = true) {
  const r = rig(o);
  const q = (r.dev as unknown as { queues: { avail: number }[] }).queues[r.txVq]!;
  const availIdxH = (q.avail + AVAIL_IDX) >>> 1;
  // The device's field change applies at the driver's next barrier (see above).
  const buffer = storeBufferModel((a, i) => a === r.mem.u16 && i === availIdxH);
  vi.spyOn(Atomics, "store").mockImplementation(buffer.store);
  const kicks = () => r.dev.kicks(r.txVq);
  const one = (i: number) => expect(r.txq.txBurst(Uint32Array.of(toMbuf(r, frame(64, i))), 1)).toBe(1);
  // The priming first (a fenced check in every publish while it lasts, see QueueBase.publishTx):
  // publishes the device consumes, with kicks suppressed; then the device is back where it started.
  r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
  r.dev.setAvailEvent(r.txVq, 0x8000);
  for (let i = 0; burnPrimes && r.txq.kickPrimesLeft !== 0; i++) {
    one(i);
    r.dev.drainTx(r.txVq);
    r.txq.cleanup();
  }
  /** avail.idx after the priming: the tests count from there. */
  const base = r.dev.availIdx(r.txVq);
  r.dev.setUsedFlags(r.txVq, 0);
  r.dev.setAvailEvent(r.txVq, base); // the next publish crosses it
  buffer.resetFences();
  const txZone = () => r.mem.u32[(portEntry(r.mem.zone(PORT_TABLE_ZONE).offset, 0) + P_TXQ_ZONES) >>> 2]!;
  const fenced = () => (r.mem.u32[(txZone() + Q_FENCED_AVAIL) >>> 2]! - base) & 0xffff;
  return {
    r,
    base,
    kicks,
    one,
    fenced,
    fences: buffer.fences,
    later: buffer.later,
    drained: buffer.drained,
  };
}

const noEventIdx: RigOptions = { device: { offered: withFeature(ALL_FEATURES, VIRTIO_F_EVENT_IDX, false) } };

describe.runIf(X86)("split TX: the kick check fenced once per batch (x86)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("the priming covers the new branches: while primed every publish runs the fenced check and the kick branch's bookkeeping", () => {
    const { r, kicks, one, fences, fenced } = kickRig(noEventIdx, false);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    const k0 = kicks();
    for (let i = 1; i <= 10; i++) {
      one(i);
      expect(fences()).toBe(i);
      expect(fenced()).toBe(i);
      r.dev.drainTx(r.txVq);
      r.txq.cleanup();
    }
    expect(kicks()).toBe(k0); // primed runs, no kicks
    expect(r.txq.kickPrimesLeft).toBe(64 - 10);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("no barrier per publish: a fenced check every TX_FENCE_FRAMES frames, none while the device suppresses kicks", () => {
    const { r, kicks, one, fenced, fences } = kickRig(noEventIdx);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    const k0 = kicks();
    for (let i = 1; i < TX_FENCE_FRAMES; i++) one(i);
    expect(fences()).toBe(0);
    expect(fenced()).toBe(0);
    one(TX_FENCE_FRAMES);
    expect(fences()).toBe(1);
    expect(fenced()).toBe(TX_FENCE_FRAMES);
    r.txq.fence(); // all fenced: nothing to do
    expect(fences()).toBe(1);
    expect(kicks()).toBe(k0);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("without EVENT_IDX: a device that re-enables notifications unseen by the unfenced check gets its kick at the next fenced check", () => {
    const { r, kicks, one, later } = kickRig(noEventIdx);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    one(1);
    const k0 = kicks();
    // The device clears NO_NOTIFY and sleeps; the driver's plain loads still read NO_NOTIFY.
    later(() => r.dev.setUsedFlags(r.txVq, 0));
    for (let i = 2; i < TX_FENCE_FRAMES; i++) one(i);
    expect(kicks()).toBe(k0);
    one(TX_FENCE_FRAMES);
    expect(kicks()).toBe(k0 + 1);
    // From now on the plain check sees the cleared flag: a kick per publish.
    one(TX_FENCE_FRAMES + 1);
    expect(kicks()).toBe(k0 + 2);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("the idle call (fence, txFence) runs the fenced check at once", () => {
    const { r, kicks, one, later } = kickRig(noEventIdx);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    one(1);
    const k0 = kicks();
    later(() => r.dev.setUsedFlags(r.txVq, 0));
    one(2);
    one(3);
    expect(kicks()).toBe(k0);
    r.txq.fence();
    expect(kicks()).toBe(k0 + 1);
    r.txq.fence(); // nothing unfenced since
    expect(kicks()).toBe(k0 + 1);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("EVENT_IDX: the fenced check tests the whole range since the last one, over several bursts", () => {
    const rr = kickRig({});
    const { r, kicks, one, later, base } = rr;
    one(1); // avail_event base: kicks (base -> base + 1), fenced at base + 1
    const k0 = kicks();
    r.dev.setAvailEvent(r.txVq, base + 1000);
    for (let i = 2; i <= 6; i++) one(i); // 1 -> 6, none crosses 1000
    expect(kicks()).toBe(k0);
    // The device had moved avail_event to 3 (inside the third burst's range) and slept, unseen.
    later(() => r.dev.setAvailEvent(r.txVq, base + 3));
    for (let i = 7; i <= TX_FENCE_FRAMES; i++) one(i);
    expect(kicks()).toBe(k0);
    one(TX_FENCE_FRAMES + 1); // the fenced check: (1, 33] holds 3
    expect(kicks()).toBe(k0 + 1);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("EVENT_IDX: the plain check also tests the whole unfenced range (a device that moved avail_event behind the last burst)", () => {
    const { r, kicks, one, base } = kickRig({});
    one(1);
    const k0 = kicks();
    r.dev.setAvailEvent(r.txVq, base + 1000);
    for (let i = 2; i <= 5; i++) one(i);
    r.dev.setAvailEvent(r.txVq, base + 3); // visible now, but behind this publish's own step (5 -> 6)
    one(6);
    expect(kicks()).toBe(k0 + 1);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("the main thread's backstop kicks an application that never calls txFence, once the index is visible", () => {
    const { r, kicks, one, later, drained, fenced } = kickRig(noEventIdx);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    one(1);
    const k0 = kicks();
    expect(txKickBackstop(r.mem, 0)).toBe(0); // avail.idx 1, unfenced, but the device suppresses kicks
    later(() => r.dev.setUsedFlags(r.txVq, 0));
    one(2);
    expect(kicks()).toBe(k0);
    drained();
    expect(fenced()).toBe(0);
    expect(txKickBackstop(r.mem, 0)).toBe(1);
    expect(kicks()).toBe(k0 + 1);
    r.txq.fence();
    expect(txKickBackstop(r.mem, 0)).toBe(0); // fenced now
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });
});

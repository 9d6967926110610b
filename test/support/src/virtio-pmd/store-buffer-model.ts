/**
 * The store -> load race a deferred kick check guards against (virtio 1.2 §2.7.13.4, §2.8.21.2: a
 * device that re-enables notifications while the driver's publish still sits in its store buffer)
 * cannot happen on one thread. The kick-batch tests model the device's change as a store that the
 * driver's plain loads do not see until the driver runs a full barrier: `later(change)` holds it,
 * the barrier applies it. The barrier is the driver's Atomics.store to one word (`isBarrier`), so a
 * test installs `store` as Atomics.store's implementation (vi.spyOn(Atomics, "store")); `drained()`
 * applies a held change without one (the main thread's view, once the lcore's stores are visible).
 */
export function storeBufferModel(isBarrier: (array: unknown, index: number) => boolean) {
  let pending: (() => void) | null = null;
  let fences = 0;
  const real = Atomics.store;
  const apply = (): void => {
    const change = pending;
    pending = null;
    if (change !== null) change();
  };
  const store = ((array: Int32Array, index: number, value: number) => {
    const out = real(array, index, value);
    if (isBarrier(array, index)) {
      fences++;
      apply();
    }
    return out;
  }) as typeof Atomics.store;
  return {
    store,
    /** The driver's barriers since the last resetFences(). */
    fences: () => fences,
    resetFences: () => {
      fences = 0;
    },
    /** Hold the device's `change` until the driver's next barrier. */
    later: (change: () => void) => {
      pending = change;
    },
    /** Apply a held change now (the store buffer drained). */
    drained: apply,
  };
}

/**
 * The order of a queue object's 32-bit stores into a byte range (a descriptor table), for tests of
 * where the driver stores first: the queue's `u32` view is swapped for a Proxy that logs each store
 * in [from, to) as its byte address, then performs it. Loads and methods pass through; Atomics
 * (which refuse a Proxy) are patched to act on the real view while recording. restore() puts the
 * view and Atomics back.
 */
export function recordStoreOrder(queue: object, from: number, to: number) {
  const q = queue as { u32: Uint32Array };
  const real = q.u32;
  const log: { bytes: number; value: number }[] = [];
  const proxy = new Proxy(real, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(target, prop, value) {
      if (typeof prop === "string") {
        const bytes = 4 * Number(prop);
        if (bytes >= from && bytes < to) log.push({ bytes, value: Number(value) >>> 0 });
      }
      return Reflect.set(target, prop, value, target);
    },
  });
  q.u32 = proxy;
  const A = Atomics as unknown as Record<string, (a: unknown, ...rest: unknown[]) => unknown>;
  const saved = new Map<string, (a: unknown, ...rest: unknown[]) => unknown>();
  for (const name of ["load", "store", "add", "sub", "exchange", "compareExchange", "and", "or", "xor"]) {
    const f = A[name]!;
    saved.set(name, f);
    A[name] = (a: unknown, ...rest: unknown[]) => f(a === proxy ? real : a, ...rest);
  }
  return {
    log,
    restore: () => {
      q.u32 = real;
      for (const [name, f] of saved) A[name] = f;
    },
  };
}

/**
 * For a store log over a descriptor table at `desc`: how many 64-byte lines it stores into, and how
 * many stores come before the first store into a line already stored into. The driver takes all
 * the lines first when the second is at least the first.
 */
export function linesBeforeRepeat(log: readonly { bytes: number }[], desc: number): { lines: number; firstRepeat: number } {
  const seen = new Set<number>();
  let firstRepeat = -1;
  for (let i = 0; i < log.length; i++) {
    const line = (log[i]!.bytes - desc) >> 6;
    if (seen.has(line) && firstRepeat < 0) firstRepeat = i;
    seen.add(line);
  }
  return { lines: seen.size, firstRepeat: firstRepeat < 0 ? log.length : firstRepeat };
}

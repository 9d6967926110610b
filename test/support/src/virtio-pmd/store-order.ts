/**
 * The order of a queue object's stores into a byte range (a descriptor table, a buffer's header
 * line), for tests of where the driver stores first and where it does not store: the queue's
 * typed-array views named in `views` (its 32-bit `u32` by default) are swapped for Proxies that log
 * each store in [from, to) as its byte address, width and value, then perform it. Loads and methods
 * pass through; Atomics (which refuse a Proxy) are patched to act on the real view while recording.
 * restore() puts the views and Atomics back.
 */
export function recordStoreOrder(queue: object, from: number, to: number, views: readonly ("u8" | "u16" | "u32")[] = ["u32"]) {
  const q = queue as Record<string, Uint8Array | Uint16Array | Uint32Array>;
  const log: { bytes: number; value: number; width: number }[] = [];
  const reals = new Map<unknown, unknown>();
  for (const view of views) {
    const real = q[view]!;
    const width = real.BYTES_PER_ELEMENT;
    const proxy = new Proxy(real, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
      set(target, prop, value) {
        if (typeof prop === "string") {
          const bytes = width * Number(prop);
          if (bytes >= from && bytes < to) log.push({ bytes, value: Number(value) >>> 0, width });
        }
        return Reflect.set(target, prop, value, target);
      },
    });
    q[view] = proxy;
    reals.set(proxy, real);
  }
  const A = Atomics as unknown as Record<string, (a: unknown, ...rest: unknown[]) => unknown>;
  const saved = new Map<string, (a: unknown, ...rest: unknown[]) => unknown>();
  for (const name of ["load", "store", "add", "sub", "exchange", "compareExchange", "and", "or", "xor"]) {
    const f = A[name]!;
    saved.set(name, f);
    A[name] = (a: unknown, ...rest: unknown[]) => f(reals.get(a) ?? a, ...rest);
  }
  return {
    log,
    restore: () => {
      for (const [proxy, real] of reals) {
        for (const view of views) if (q[view] === proxy) q[view] = real as Uint8Array;
      }
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

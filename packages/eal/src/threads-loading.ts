/**
 * Lcore threads still starting (pinning themselves, loading their modules). runMain's error path
 * waits for them before it exits: Node 20 aborts the process (SIGABRT, "FATAL ERROR:
 * v8::Module::IsGraphAsync must be used on an instantiated module") when it exits while a worker
 * thread is still loading ES modules. Seen when l2fwd refused its devices right after Eal.init:
 * test/faults-device-thread.test.ts once in CI; 3 aborts in 720 refused starts under load.
 */
const loading = new Set<Promise<unknown>>();

/** Track an Eal's readiness until it settles (cold: once per Eal.init). */
export function trackThreadsLoading(ready: Promise<unknown>): void {
  const p = ready.then(
    () => undefined,
    () => undefined,
  );
  loading.add(p);
  void p.then(() => loading.delete(p));
}

/** Resolves once every tracked lcore thread has loaded (or failed to), or after `boundMs`. */
export function threadsLoaded(boundMs: number): Promise<void> {
  if (loading.size === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, boundMs);
    void Promise.all(loading).then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

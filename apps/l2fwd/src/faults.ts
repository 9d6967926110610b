/**
 * Fault injection for tests, the one place l2fwd reads it.
 *
 * TPDK_TEST_KILL_DEVICE_AFTER_MS (test/faults-device.test.ts): kill the
 * device thread this many ms after the lcores start, as a crash would, to
 * exercise the watchdog.
 *
 * TPDK_TEST_LAUNCH_DELAY_MS (test/l2fwd-start.test.ts): wait this many ms
 * between the ports' start and the lcores' launch, as a slow bring-up (a
 * port's traps on a loaded machine, DPDK's link check) would. (The device thread's own faults are @tpdk/vhost's
 * TPDK_FAULT_DEVICE, packages/vhost/src/faults.ts.)
 *
 * TPDK_TEST_LCORE_STALL_MS (test/l2fwd-replay.test.ts): each lcore stops for
 * this many ms right after its first burst that received frames, holding
 * them, as an lcore descheduled on a loaded machine would.
 */
const TEST_KILL_DEVICE_ENV = "TPDK_TEST_KILL_DEVICE_AFTER_MS";
const TEST_LAUNCH_DELAY_ENV = "TPDK_TEST_LAUNCH_DELAY_MS";
const TEST_LCORE_STALL_ENV = "TPDK_TEST_LCORE_STALL_MS";

/** Start the kill timer when the variable is set; the caller clears what it returns. */
export function armDeviceKill(kill: () => void): NodeJS.Timeout | undefined {
  const after = process.env[TEST_KILL_DEVICE_ENV];
  return after === undefined ? undefined : setTimeout(kill, Number(after));
}

/** Resolves after TPDK_TEST_LAUNCH_DELAY_MS ms when the variable is set, at once otherwise. */
export function testLaunchDelay(): Promise<void> {
  const ms = Number(process.env[TEST_LAUNCH_DELAY_ENV] ?? 0);
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** TPDK_TEST_LCORE_STALL_MS, or 0 (read once per launch, on the lcore). */
export function testLcoreStallMs(): number {
  const ms = Number(process.env[TEST_LCORE_STALL_ENV] ?? 0);
  return ms > 0 ? ms : 0;
}

/** Block this thread for `ms` (the lcore's test stall). */
export function stallThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

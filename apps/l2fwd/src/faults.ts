/**
 * Fault injection for tests, the one place l2fwd reads it.
 *
 * TPDK_TEST_KILL_DEVICE_AFTER_MS (test/faults-device.test.ts): kill the
 * device thread this many ms after the lcores start, as a crash would, to
 * exercise the watchdog. (The device thread's own faults are @tpdk/vhost's
 * TPDK_FAULT_DEVICE, packages/vhost/src/faults.ts.)
 */
const TEST_KILL_DEVICE_ENV = "TPDK_TEST_KILL_DEVICE_AFTER_MS";

/** Start the kill timer when the variable is set; the caller clears what it returns. */
export function armDeviceKill(kill: () => void): NodeJS.Timeout | undefined {
  const after = process.env[TEST_KILL_DEVICE_ENV];
  return after === undefined ? undefined : setTimeout(kill, Number(after));
}

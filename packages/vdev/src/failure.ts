import { TpdkError } from "@tpdk/eal";

/** Where a Vhost's failure is kept once `vhost.failed` rejected. */
export interface DeviceFailure {
  error?: Error;
}

/** How long explainFailure() lets queued messages arrive, ms. */
const REPORT_GRACE_MS = 20;

/**
 * For an error from a driver call: when the device thread's failure has been
 * reported (now, or within REPORT_GRACE_MS: its message may be queued behind
 * a trap that blocked the event loop), an error naming that failure, with its
 * code; otherwise `e` itself.
 */
export async function explainFailure(failure: DeviceFailure, e: unknown): Promise<unknown> {
  if (failure.error === undefined) await new Promise((r) => setTimeout(r, REPORT_GRACE_MS));
  const f = failure.error;
  if (f === undefined) return e;
  const code = (f as { code?: unknown }).code;
  return new TpdkError(typeof code === "string" ? code : "EDEVICE", deviceFailureText(f));
}

/**
 * One line saying what failed, from a `vhost.failed` rejection: the whole
 * device thread ("device thread failed: <why>", "device thread exited
 * unexpectedly (code N)") or one device, which needs a reset while the
 * thread serves the others ("device failed: virtio1: <why>").
 */
export function deviceFailureText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (m.startsWith("vhost: device thread ")) return m.slice("vhost: ".length);
  if (m.startsWith("vhost: ")) return `device failed: ${m.slice("vhost: ".length)}`;
  return `device thread failed: ${m}`;
}

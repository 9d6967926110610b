import { UsageError, parseDevargs } from "@tpdk/eal";
import { parseWireSpec, type WireSpec } from "@tpdk/vhost";

/** Parse "virtio0,key=value,..." into a wire spec the way the device will. */
export function wireSpec(devargs: string): WireSpec {
  const d = parseDevargs(devargs);
  return parseWireSpec(d.name, d.args);
}

/**
 * The message of the UsageError `fn` throws. Fails (throws) when `fn` does
 * not throw, throws anything but a UsageError (rethrown as is), or gives a
 * message of more than one line (usage errors are one line on the console).
 */
export function usageErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message.includes("\n")) throw new Error(`usage error of more than one line: ${JSON.stringify(e.message)}`);
    return e.message;
  }
  throw new Error("no error");
}

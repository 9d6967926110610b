import { TpdkError } from "@tpdk/eal";

/** The TpdkError `fn` throws (to check its code and message); anything else thrown, or nothing, fails the test. */
export function typedErrorOf(fn: () => unknown): TpdkError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TpdkError) return e;
    throw new Error(`expected a TpdkError, got: ${String(e)}`);
  }
  throw new Error("expected a TpdkError, nothing was thrown");
}

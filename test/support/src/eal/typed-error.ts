import { TpdkError, UsageError } from "@tpdk/eal";

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

/** The message of the UsageError `fn` throws (bad user input); another error, or none, fails the test. */
export function usageErrorMessage(fn: () => unknown): string {
  const e = typedErrorOf(fn);
  if (!(e instanceof UsageError)) throw new Error(`expected a UsageError, got ${e.name} (${e.code}): ${e.message}`);
  return e.message;
}

/** The code of the TpdkError `fn` throws, undefined when it returns; any other error is thrown on. */
export function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof TpdkError) return e.code;
    throw e;
  }
  return undefined;
}

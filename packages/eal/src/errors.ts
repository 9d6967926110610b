/**
 * Typed errors for cold paths. Every error tpdk throws carries a stable `code`
 * so callers (and the CLI) can react without parsing messages. Hot paths never
 * throw: they return counts.
 */
export class TpdkError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TpdkError";
    this.code = code;
  }
}

/** A user-facing input error (CLI option, vdev string, file): exit code 2, one line, no stack. */
export class UsageError extends TpdkError {
  constructor(message: string, code = "EUSAGE") {
    super(code, message);
    this.name = "UsageError";
  }
}

export function isTpdkError(e: unknown): e is TpdkError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

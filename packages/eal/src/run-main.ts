import path from "node:path";
import { TpdkError, UsageError } from "./errors.js";
import { threadsLoaded } from "./threads-loading.js";

/** Exit codes: 0 ok, 1 runtime failure, 2 usage error (like getopt-based tools). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Longest a failing main waits for lcore threads still loading before it exits, ms. */
const EXIT_WAIT_LOADING_MS = 5000;

export interface RunMainOptions {
  /** Program name for messages; default: the script's base name without extension. */
  prog?: string;
}

let runningProg: string | undefined;

/**
 * The name messages are prefixed with: `prog`, else the name given to
 * runMain, else the main script's base name.
 */
export function progName(prog?: string): string {
  if (prog) return prog;
  if (runningProg) return runningProg;
  const script = process.argv[1];
  if (!script || script === "-e" || process.argv.length < 2) return "tpdk";
  return path.basename(script).replace(/\.[cm]?[jt]s$/, "");
}

/**
 * Format an error the way runMain reports it, and the exit code that goes with
 * it. User errors are one line with no stack; unexpected errors show their
 * stack only with TPDK_DEBUG=1.
 */
export function describeError(e: unknown, prog: string): { text: string; exitCode: number } {
  if (e instanceof UsageError) {
    return { text: `${prog}: ${e.message}`, exitCode: EXIT_USAGE };
  }
  if (e instanceof TpdkError) return { text: `${prog}: ${e.message} (${e.code})`, exitCode: EXIT_FAILURE };
  const debug = process.env.TPDK_DEBUG === "1";
  if (e instanceof Error) {
    return { text: debug && e.stack ? `${prog}: ${e.stack}` : `${prog}: ${e.message}`, exitCode: EXIT_FAILURE };
  }
  return { text: `${prog}: ${String(e)}`, exitCode: EXIT_FAILURE };
}

/**
 * Run an application's async main. A resolved number becomes the exit code
 * (the process then exits once its event loop drains, so call eal.close()).
 * A thrown error prints one line on stderr and exits: 2 for a UsageError, 1
 * otherwise (stdio to pipes and files is synchronous on Linux, so the line is
 * not lost); at once, unless lcore threads an Eal.init started are still
 * loading their modules: then once they have (at most EXIT_WAIT_LOADING_MS),
 * because node can abort when the process exits under a loading worker
 * (threads-loading.ts).
 */
export function runMain(main: () => Promise<number | void> | number | void, opts: RunMainOptions = {}): void {
  const prog = progName(opts.prog);
  runningProg = prog;
  Promise.resolve()
    .then(main)
    .then(
      (code) => {
        if (typeof code === "number") process.exitCode = code;
      },
      (e: unknown) => {
        const { text, exitCode } = describeError(e, prog);
        process.stderr.write(text + "\n");
        void threadsLoaded(EXIT_WAIT_LOADING_MS).then(() => process.exit(exitCode));
      },
    );
}

import type { ChildProcess } from "node:child_process";

/** How a benchmark child ended: its result line (when it printed one and exited 0), or why not. */
export interface ChildOutcome {
  /** The text after `prefix` on the child's result line, or null. */
  result: string | null;
  /** Why there is no result: "exit code N", "killed by SIG", "killed after N ms (timeout)". */
  why: string;
  /** The end of the child's stderr (the last `errLines` lines). */
  errTail: string;
  /** Everything the child wrote on `other` (e.g. V8 traces on stdout), when given. */
  other: string;
}

export interface SuperviseOptions {
  /** Kill the child (SIGKILL) after this long, ms. */
  limitMs: number;
  /** The stream that carries the result line. */
  results: NodeJS.ReadableStream;
  /** The result line starts with this. */
  prefix: string;
  /** A second stream to keep whole (e.g. stdout with --trace-gc lines). */
  other?: NodeJS.ReadableStream;
  /** stderr kept: at most about this many characters, and this many lines in errTail. */
  errChars: number;
  errLines: number;
}

/**
 * Collect a benchmark child's result line and the end of its stderr, with a
 * time limit. Never rejects: a crash, a kill or a timeout is an outcome
 * with `result` null and `why` saying what happened.
 */
export function superviseChild(child: ChildProcess, o: SuperviseOptions): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    let out = "";
    let other = "";
    let err = "";
    o.results.setEncoding("utf8");
    o.results.on("data", (d: string) => {
      out += d;
    });
    o.other?.setEncoding("utf8");
    o.other?.on("data", (d: string) => {
      other += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      if (err.length > o.errChars) err = err.slice(-(o.errChars >>> 1));
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.limitMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith(o.prefix));
      const why = timedOut ? `killed after ${o.limitMs} ms (timeout)` : signal ? `killed by ${signal}` : `exit code ${code}`;
      const errTail = err.trim().split("\n").slice(-o.errLines).join("\n");
      resolve({ result: line !== undefined && code === 0 ? line.slice(o.prefix.length) : null, why, errTail, other });
    });
  });
}

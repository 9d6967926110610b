import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Child-process checks of the data path's compiled code (no deopt after a phase, nothing allocated):
 * the script runs in a fresh node with `flags` (e.g. --trace-opt --trace-deopt), where nothing but
 * the script allocates or compiles, unlike vitest's own isolate. Scripts import the built rigs
 * through these URLs (the test command builds first; the same from src/ under vitest and from dist/).
 */
export const RIG_URL = new URL("../../dist/virtio-pmd/index.js", import.meta.url).href;
export const VHOST_RIG_URL = new URL("../../dist/vhost/index.js", import.meta.url).href;

/** The driver's data-path functions (frame-steps.ts and the queues' burst and reclaim methods). */
export const DATA_PATH = /<JSFunction (rxBurst|rxInOrder|rxGeneral|touchAhead|txBurst|reclaim|reclaimInOrder|sizeBinOf|sizeRun4?|sizeRunEnd|countFrame|castQuad)\b/;

export interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `script` (an ES module) in a child node; bare imports resolve from the test-support package. */
export function runChild(script: string, flags: readonly string[] = [], timeoutMs = 60_000): ChildRun {
  const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8", cwd: fileURLToPath(new URL("../..", import.meta.url)), timeout: timeoutMs,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stdout before and from the line `=== <marker>` (null when the marker never printed). */
export function splitAt(stdout: string, marker: string): { before: string; after: string } | null {
  const at = stdout.indexOf(`=== ${marker}`);
  return at < 0 ? null : { before: stdout.slice(0, at), after: stdout.slice(at) };
}

/**
 * runChild, then splitAt `marker`: throws (with the child's stderr, or its last output) when the
 * child failed or never reached the marker.
 */
export function tracePhases(script: string, flags: readonly string[], marker: string, timeoutMs = 60_000): { before: string; after: string } {
  const r = runChild(script, flags, timeoutMs);
  if (r.status !== 0) throw new Error(`child exited with ${r.status}: ${r.stderr.slice(-2000)}`);
  const parts = splitAt(r.stdout, marker);
  if (parts === null) throw new Error(`child never printed "=== ${marker}": ${r.stdout.slice(-2000)}`);
  return parts;
}

/** The counts of a script's last line `=== done sent <n> dropped <m>` in `after` (throws when missing). */
export function doneCounts(after: string): { sent: number; dropped: number } {
  const done = /=== done sent (\d+) dropped (\d+)/.exec(after);
  if (done === null) throw new Error(`no "=== done" line: ${after.slice(-2000)}`);
  return { sent: Number(done[1]), dropped: Number(done[2]) };
}

/** --trace-opt: whether `name` was optimized (TurboFan) in `out`. */
export function optimized(out: string, name: string): boolean {
  return new RegExp(`completed (optimizing|compiling).*<JSFunction ${name}\\b`).test(out);
}

/** --trace-deopt: the lines deoptimizing a data-path function. */
export function dataPathDeopts(out: string): string[] {
  return out.split("\n").filter((l) => /deoptimiz/.test(l) && DATA_PATH.test(l));
}

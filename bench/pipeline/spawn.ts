import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ownedChild } from "@tpdk/testing/owned";
import { superviseChild } from "../lib/child.js";
import { waitForIdle } from "../lib/idle.js";
import { attributeGcs, parseTraceGc } from "./trace-gc.js";
import { RESULT_PREFIX, type RunConfig, type RunResult } from "./types.js";

const RUN_ONE = fileURLToPath(new URL("./run-one.js", import.meta.url));
const GC_PROBE = fileURLToPath(new URL("./gc-probe.cjs", import.meta.url));

export interface RunFailure {
  config: RunConfig;
  error: string;
}

export interface SpawnOptions {
  /** Slack beyond warm-up + duration before the child is killed, ms. */
  timeoutMs: number;
  /** Directory for V8 CPU profiles ("" = none). */
  cpuProf: string;
}

/**
 * Run one configuration in a fresh `node` process (run-one.js, with the GC
 * probe preloaded into every thread) and parse its result line. Never
 * rejects: a crash, a timeout or a missing result line is a RunFailure
 * carrying the end of the child's stderr.
 */
export function runOne(config: RunConfig, o: SpawnOptions): Promise<RunResult | RunFailure> {
  const args = ["--expose-gc", "--trace-gc", "--require", GC_PROBE];
  if (o.cpuProf) args.push("--cpu-prof", "--cpu-prof-dir", o.cpuProf);
  args.push(RUN_ONE, JSON.stringify(config));
  // Owned: SIGKILLed by PID if the bench dies first (superviseChild bounds it otherwise).
  const child = ownedChild(spawn(process.execPath, args, {
    env: { ...process.env, TPDK_BENCH_GC_PROBE: "1" },
    // fd 3 carries the result line; stdout carries V8's --trace-gc lines (buffered by libc, so kept apart).
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  }));
  const limitMs = config.warmupMs + config.durationMs + o.timeoutMs;
  return superviseChild(child, {
    limitMs, results: child.stdio[3] as NodeJS.ReadableStream, prefix: RESULT_PREFIX, other: child.stdout!, errChars: 64_000, errLines: 12,
  }).then((c) => {
    let why = c.why;
    if (c.result !== null) {
      try {
        const r = JSON.parse(c.result) as RunResult;
        const gc = attributeGcs(parseTraceGc(c.other), r.gcMarks, r.windowEpochMs[0], r.windowEpochMs[1]);
        r.gcWindow = gc.window;
        r.gcTotal = gc.total;
        r.gcComplete = gc.complete;
        return r;
      } catch (e) {
        why = `bad result line: ${(e as Error).message}`;
      }
    }
    return { config, error: `${why}${c.errTail ? `: ${c.errTail}` : ""}` };
  });
}

/**
 * runOne, again while the run got less than `minCpuShare` of its two CPUs
 * (other processes took turns on them), at most `retries` more times; keeps
 * the attempt with the highest share and says how many there were.
 */
export interface BestOptions extends SpawnOptions {
  minCpuShare: number;
  retries: number;
  /** Wait up to this long for idle CPUs before each attempt (0: don't). */
  waitIdleS: number;
  onWait?: (idle: number) => void;
  /** Shared across runs: after a wait timed out, the next waits are short (5 s) until the CPUs were idle again. */
  idleState?: { busy: boolean };
}

/** Wait for idle CPUs per o.waitIdleS (see BestOptions.idleState). */
export async function maybeWaitIdle(o: BestOptions): Promise<void> {
  if (o.waitIdleS <= 0) return;
  const st = o.idleState;
  const r = await waitForIdle(0.9, st?.busy ? Math.min(5, o.waitIdleS) : o.waitIdleS, o.onWait ?? (() => {}));
  if (st) st.busy = r.idle < 0.9;
}

export async function runBest(config: RunConfig, o: BestOptions): Promise<RunResult | RunFailure> {
  let best: RunResult | null = null;
  let failure: RunFailure | null = null;
  let attempts = 0;
  while (attempts <= o.retries) {
    attempts++;
    await maybeWaitIdle(o);
    const r = await runOne(config, o);
    if (isFailure(r)) {
      failure = r; // a crash is not retried: it would most likely crash again
      break;
    }
    if (best === null || r.cpuShare > best.cpuShare) best = r;
    if (r.cpuShare >= o.minCpuShare) break;
  }
  if (best === null) return failure!;
  best.attempts = attempts;
  return best;
}

export function isFailure(r: RunResult | RunFailure): r is RunFailure {
  return "error" in r;
}


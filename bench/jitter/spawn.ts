import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ownedChild } from "@tpdk/testing/owned";
import { superviseChild } from "../lib/child.js";
import { JITTER_RESULT_PREFIX, type JitterConfig, type JitterRun } from "./types.js";

const PROBE = fileURLToPath(new URL("./probe.js", import.meta.url));

/**
 * Run the jitter probe in a fresh `node` process and parse its result
 * line. Never rejects: a crash, a timeout (warm-up + duration + slackMs) or
 * a missing line resolves to { error } with the end of the child's stderr.
 */
export function runJitter(config: JitterConfig, slackMs: number): Promise<JitterRun | { error: string }> {
  // Owned: SIGKILLed by PID if the bench dies first (superviseChild bounds it otherwise).
  const child = ownedChild(spawn(process.execPath, [PROBE, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] }));
  const limitMs = config.warmupMs + config.durationMs + slackMs;
  return superviseChild(child, { limitMs, results: child.stdout!, prefix: JITTER_RESULT_PREFIX, errChars: 16_000, errLines: 8 }).then((c) => {
    let why = c.why;
    if (c.result !== null) {
      try {
        return JSON.parse(c.result) as JitterRun;
      } catch (e) {
        why = `bad result line: ${(e as Error).message}`;
      }
    }
    return { error: `jitter probe: ${why}${c.errTail ? `: ${c.errTail}` : ""}` };
  });
}

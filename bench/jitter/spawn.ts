import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { JITTER_RESULT_PREFIX, type JitterConfig, type JitterRun } from "./types.js";

const PROBE = fileURLToPath(new URL("./probe.js", import.meta.url));

/**
 * Run the jitter probe in a fresh `node` process and parse its result
 * line. Never rejects: a crash, a timeout (warm-up + duration + slackMs) or
 * a missing line resolves to { error } with the end of the child's stderr.
 */
export function runJitter(config: JitterConfig, slackMs: number): Promise<JitterRun | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PROBE, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      if (err.length > 16_000) err = err.slice(-8_000);
    });
    const limit = config.warmupMs + config.durationMs + slackMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, limit);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith(JITTER_RESULT_PREFIX));
      if (line && code === 0) {
        try {
          resolve(JSON.parse(line.slice(JITTER_RESULT_PREFIX.length)) as JitterRun);
          return;
        } catch (e) {
          err += `\nbad result line: ${(e as Error).message}`;
        }
      }
      const why = timedOut ? `killed after ${limit} ms (timeout)` : signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve({ error: `jitter probe: ${why}${err.trim() ? `: ${err.trim().split("\n").slice(-8).join("\n")}` : ""}` });
    });
  });
}

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SIGNAL_SCRIPT_URL } from "@tpdk/testing/eal";
import { ownedChild } from "@tpdk/testing/owned";

const script = fileURLToPath(SIGNAL_SCRIPT_URL);

/** Start the fixture, wait for "ready", send `signals` (one at a time, after each handler printed), collect the outcome. */
function runWithSignals(mode: string, signals: NodeJS.Signals[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    // Owned: SIGKILLed by PID if this process dies first; the 30 s timer kills it otherwise.
    const child = ownedChild(spawn(process.execPath, [script, mode], { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    let sent = 0;
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const next = () => {
      if (sent < signals.length) child.kill(signals[sent++]);
    };
    child.stdout.on("data", (d: Buffer) => {
      const before = (stdout.match(/received/g) ?? []).length;
      stdout += d;
      if (stdout.includes("ready") && sent === 0) next();
      else if ((stdout.match(/received/g) ?? []).length > before) next();
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("eal.onSignal", () => {
  it("SIGINT calls the handler with 2; the app stops and exits 0", async () => {
    const r = await runWithSignals("graceful", ["SIGINT"]);
    expect(r.stdout).toContain("Signal 2 received, preparing to exit...");
    expect(r.stdout).toContain("Bye... (handled 2)");
    expect(r.code).toBe(0);
  });

  it("SIGTERM calls the handler with 15", async () => {
    const r = await runWithSignals("graceful", ["SIGTERM"]);
    expect(r.stdout).toContain("Signal 15 received");
    expect(r.code).toBe(0);
  });

  it("a second signal while stopping exits 130 (SIGINT) with one message", async () => {
    const r = await runWithSignals("stuck", ["SIGINT", "SIGINT"]);
    expect(r.stdout).toContain("Signal 2 received");
    expect(r.stdout).not.toContain("Bye");
    expect(r.code).toBe(130);
    // --no-pin also printed its one warning line; the signal adds exactly one more.
    const lines = r.stderr.split("\n").filter((l) => l && !l.startsWith("tpdk: warning:"));
    expect(lines).toEqual(["sigtest: signal 2 received while stopping, exiting now"]);
  });

  it("a second SIGTERM exits 143", async () => {
    const r = await runWithSignals("stuck", ["SIGTERM", "SIGTERM"]);
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/signal 15 received while stopping/);
  });
});

// The bench's testpmd children are owned (@tpdk/testing/owned): a bench process SIGKILLed with its pair
// server running (no finally runs) leaves no testpmd behind. The "testpmd" here is a stand-in node
// script that creates the vhost-user socket startPairServer waits for, then idles; the bench is a node
// process running bench/dist's startPairServer (build first).
import { spawn } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { alive, ownedChild, ownedTempDir } from "@tpdk/testing/owned";
import { until } from "@tpdk/testing/until";

const TESTPMD_JS = new URL("../dist/dpdk/testpmd.js", import.meta.url).href;

describe("bench pair server", () => {
  it("its testpmd is SIGKILLed by the bench's watchdog when the bench is SIGKILLed", async () => {
    const dir = ownedTempDir("bench-owned");
    const fake = join(dir, "testpmd");
    writeFileSync(
      fake,
      `#!${process.execPath}\n` +
        `const a = process.argv.find((x) => x.includes("iface="));\n` +
        `require("node:fs").writeFileSync(/iface=([^,]+)/.exec(a)[1], "");\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    chmodSync(fake, 0o755);
    const o = { burst: 32, hugepages: false, testpmd: fake, l2fwd: ["unused"], tag: `owned-${process.pid}`, warmupS: 1, durationS: 1 };
    const script =
      `const { startPairServer } = await import(${JSON.stringify(TESTPMD_JS)});\n` +
      `const s = await startPairServer(${JSON.stringify(o)}, "dpdk", "front-end");\n` +
      `console.log("SERVER " + s.proc.pid + " " + s.sock);\n` +
      `setInterval(() => {}, 1000);\n`;
    const bench = ownedChild(spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] }));
    let out = "";
    bench.stdout!.on("data", (d) => (out += d));
    bench.stderr!.on("data", (d) => (out += d));
    let pid = -1;
    let sock = "";
    try {
      await until(() => /SERVER \d+ /.test(out), 20_000, "the bench's pair server started", {
        log: () => out,
        stop: () => (bench.exitCode !== null ? `the bench exited (${bench.exitCode})` : null),
      });
      const m = /SERVER (\d+) (\S+)/.exec(out)!;
      pid = Number(m[1]);
      sock = m[2]!;
      expect(alive(pid)).toBe(true);
      bench.kill("SIGKILL");
      await until(() => !alive(pid), 10_000, `the bench's testpmd (pid ${pid}) gone with the bench`);
    } finally {
      bench.kill("SIGKILL");
      if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
      if (sock) rmSync(sock, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

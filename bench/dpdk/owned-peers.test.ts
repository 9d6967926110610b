// The bench's testpmd children are owned (@tpdk/testing/owned): a bench process SIGKILLed with its pair
// server running (no finally runs) leaves no testpmd behind, nor its vhost-user socket and the
// testpmd's runtime folder (both registered with the bench's watchdog). The "testpmd" here is a
// stand-in node script that creates the vhost-user socket startPairServer waits for and the runtime
// folder of its --file-prefix, as DPDK does, then idles; the bench is a node process running
// bench/dist's startPairServer (build first).
import { spawn } from "node:child_process";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { alive, ownedChild, ownedTempDir } from "@tpdk/testing/owned";
import { until } from "@tpdk/testing/until";
import { prefixOf, runtimeDir } from "./commands.js";

const TESTPMD_JS = new URL("../dist/dpdk/testpmd.js", import.meta.url).href;

describe("bench pair server", () => {
  it("its testpmd is SIGKILLed and its socket and runtime folder removed by the bench's watchdog when the bench is SIGKILLed", async () => {
    const dir = ownedTempDir("bench-owned");
    const fake = join(dir, "testpmd");
    writeFileSync(
      fake,
      `#!${process.execPath}\n` +
        `const a = process.argv.find((x) => x.includes("iface="));\n` +
        `const fs = require("node:fs");\n` +
        `const prefix = process.argv[process.argv.indexOf("--file-prefix") + 1];\n` +
        `fs.mkdirSync(${JSON.stringify(runtimeDir("PREFIX"))}.replace("PREFIX", prefix), { recursive: true });\n` +
        `fs.writeFileSync(/iface=([^,]+)/.exec(a)[1], "");\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    chmodSync(fake, 0o755);
    const o = { burst: 32, hugepages: false, testpmd: fake, l2fwd: ["unused"], tag: `owned-${process.pid}`, warmupS: 1, durationS: 1 };
    const script =
      `const { startPairServer } = await import(${JSON.stringify(TESTPMD_JS)});\n` +
      `const s = await startPairServer(${JSON.stringify(o)}, "dpdk", "front-end");\n` +
      `console.log("SERVER " + s.proc.pid + " " + s.sock);\n` +
      `setInterval(() => {}, 1000);\n`;
    const rt = runtimeDir(prefixOf(o, "vhost"));
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
      expect([sock, rt].filter((p) => existsSync(p))).toEqual([sock, rt]);
      bench.kill("SIGKILL");
      await until(() => !alive(pid), 10_000, `the bench's testpmd (pid ${pid}) gone with the bench`);
      await until(() => !existsSync(sock) && !existsSync(rt), 10_000, `the bench's socket and runtime folder gone with it`, {
        log: () => `left: ${[sock, rt].filter((p) => existsSync(p)).join(" ")}`,
      });
    } finally {
      bench.kill("SIGKILL");
      if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
      if (sock) rmSync(sock, { force: true });
      rmSync(rt, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

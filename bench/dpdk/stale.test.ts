// A bench cleans what a dead bench left (stale.ts): before its first pair server starts it removes the
// vhost-user sockets and testpmd runtime folders whose names carry a dead PID, and leaves a live
// bench's, and a dead bench's that a live process (a testpmd that outlived it) still names. The
// "testpmd" is a stand-in node script that creates the socket startPairServer waits for.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { alive, ownedChild, ownedTempDir } from "@tpdk/testing/owned";
import { until } from "@tpdk/testing/until";
import { runtimeDir } from "./commands.js";
import { benchSock } from "./stale.js";
import { startPairServer, stopPairServer } from "./testpmd.js";

/** The PID of a process that has ended (a node that exits at once, reaped). */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((r) => p.once("exit", r));
  return p.pid!;
}

describe("a bench's start", () => {
  it("removes the socket and runtime folders of a dead bench, never a live process's", async () => {
    const dir = ownedTempDir("bench-stale");
    const fake = join(dir, "testpmd");
    writeFileSync(
      fake,
      `#!${process.execPath}\n` +
        `const a = process.argv.find((x) => x.includes("iface="));\n` +
        `require("node:fs").writeFileSync(/iface=([^,]+)/.exec(a)[1], "");\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    chmodSync(fake, 0o755);
    const dead = await deadPid();
    const orphaned = await deadPid(); // a dead bench whose testpmd lives on
    // A live bench: a process that stays up while the sweep runs.
    const live = ownedChild(spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }));
    const survivor = ownedChild(
      spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", "--file-prefix", `tpdkbench-virtio-${orphaned}`, `iface=${benchSock(orphaned)}`], {
        stdio: "ignore",
      }),
    );
    const livePid = live.pid!;
    expect(alive(dead) || alive(orphaned)).toBe(false);
    const gone = [benchSock(dead), runtimeDir(`tpdkbench-vhost-${dead}`), runtimeDir(`tpdkbench-virtio-${dead}`)];
    const kept = [benchSock(livePid), runtimeDir(`tpdkbench-vhost-${livePid}`), benchSock(orphaned), runtimeDir(`tpdkbench-virtio-${orphaned}`)];
    const all = [...gone, ...kept];
    try {
      for (const p of all) {
        if (p.endsWith(".sock")) writeFileSync(p, "");
        else {
          mkdirSync(p, { recursive: true });
          writeFileSync(join(p, "config"), "");
        }
      }
      const o = { burst: 32, hugepages: false, testpmd: fake, l2fwd: ["unused"], tag: `stale-${process.pid}`, warmupS: 1, durationS: 1 };
      const s = await startPairServer(o, "dpdk", "front-end");
      await stopPairServer(s);
      expect(gone.filter((p) => existsSync(p))).toEqual([]);
      expect(kept.filter((p) => !existsSync(p))).toEqual([]);
    } finally {
      live.kill("SIGKILL");
      survivor.kill("SIGKILL");
      await until(() => !alive(livePid) && !alive(survivor.pid!), 10_000, "the stand-ins gone");
      for (const p of all) rmSync(p, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

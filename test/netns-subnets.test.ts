// freeSubnets reserves what it returns: a subnet held by one test process is not handed to another
// until that process releases it or exits (the linux-peer test's hosts, two test files or two
// worktrees' suites at once). Needs only `ip` (it reads the root namespace's addresses; adds none).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { PROBE_BOUND, distUrl, freeSubnets, ownedChild, releaseSubnet } from "@tpdk/testing/e2e";

const noIp = spawnSync("sh", ["-c", "command -v ip"], PROBE_BOUND).status !== 0 ? "no `ip` (install iproute2)" : null;
if (noIp) console.warn(`netns-subnets.test: skipped: ${noIp}`);

/** A first free subnet at or after 180 in this root namespace (each run may find others in use). */
const START = 180;

/** Another process that takes `n` subnets from `start` and holds them until killed; resolves with them. */
function holder(n: number, start: number): Promise<{ child: ChildProcess; subnets: number[] }> {
  const script = `
const { freeSubnets } = await import(${JSON.stringify(distUrl("@tpdk/testing/e2e"))});
console.log(JSON.stringify(await freeSubnets(${n}, ${start})));
setInterval(() => {}, 1000);
`;
  const child = ownedChild(spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] }));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve({ child, subnets: JSON.parse(out.split("\n")[0]!) as number[] });
    });
    child.stderr!.on("data", (d) => (err += d));
    child.once("close", (code) => reject(new Error(`holder exited ${code}: ${err}`)));
  });
}

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("close", () => r())));
}

describe.skipIf(noIp !== null)("freeSubnets: a real reservation", () => {
  const children: ChildProcess[] = [];
  const mine: number[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
    for (const s of mine.splice(0)) releaseSubnet(s);
  });

  it("a subnet another process holds is skipped, and free again once that process is gone (SIGKILL: no cleanup ran)", async () => {
    const h = await holder(2, START);
    children.push(h.child);
    expect(h.subnets).toHaveLength(2);
    const got = await freeSubnets(2, START);
    mine.push(...got);
    expect(got.filter((s) => h.subnets.includes(s))).toEqual([]);
    for (const s of got.splice(0)) releaseSubnet(s);
    mine.length = 0;
    h.child.kill("SIGKILL");
    await exited(h.child);
    const again = await freeSubnets(2, START);
    mine.push(...again);
    expect(again).toEqual(h.subnets);
  });

  it("within one process: held subnets are skipped until releaseSubnet", async () => {
    const a = await freeSubnets(2, START);
    mine.push(...a);
    const b = await freeSubnets(2, START);
    mine.push(...b);
    expect(b.filter((s) => a.includes(s))).toEqual([]);
    releaseSubnet(a[0]!);
    const c = await freeSubnets(1, START);
    mine.push(...c);
    expect(c).toEqual([a[0]]);
  });
});

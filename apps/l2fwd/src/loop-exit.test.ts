import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ownedTempDir, runOwned } from "@tpdk/testing/owned";

// The built packages (dist/, as the lcore's worker thread loads them): the test command builds first.
const url = (p: string): string => JSON.stringify(new URL(p, import.meta.url).href);

/**
 * The built-in pipeline of the benchmark (bench/pipeline/run-one.ts, smaller): a generator port
 * forwarded by l2fwdLoop on lcore 0 to a sink port, 1.5 s of traffic (the loop optimized), then a
 * marker, then the stop.
 */
const script = `
const { Eal } = await import(${url("../../../packages/eal/dist/index.js")});
const { Mempool } = await import(${url("../../../packages/mbuf/dist/index.js")});
const { VdevPorts, planVdevs } = await import(${url("../../../packages/vdev/dist/index.js")});
const { reserveStats, readCounters } = await import(${url("../dist/index.js")});
const eal = Eal.init({ lcores: [0], memoryMb: 64, busyPoll: true });
const drv = "queue_size=256,tx_mode=push,in_order=1,mrg_rxbuf=1";
const bus = await VdevPorts.start(eal.mem, planVdevs(["virtio0,wire=gen,size=64," + drv, "virtio1,wire=sink," + drv]), { deviceCpu: eal.serviceCpu(), busyPoll: true });
const pool = Mempool.create(eal.mem, "mbuf_pool", { n: 4096, cacheSize: 256 });
for (const port of bus.ports) {
  port.configure(1, 1);
  port.rxQueueSetup(0, { nbDesc: 256, pool });
  port.txQueueSetup(0, { nbDesc: 256 });
  port.start();
}
const statsOffset = reserveStats(eal.mem, 2);
const arg = { rxPorts: [0], dst: [1, 0], macs: bus.ports.map((p) => [...p.macAddr()]), macUpdating: true, burst: 32, statsOffset, drainPasses: 32, primePools: ["mbuf_pool"] };
await eal.launch(${url("../dist/lcore-loop.js")}, "l2fwdLoop", () => arg);
await new Promise((r) => setTimeout(r, 1500));
console.log("=== stop");
eal.stop();
const values = await eal.wait();
const c = readCounters(eal.mem, statsOffset, [0, 1]);
console.log("=== done passes " + values[0].passes + " rx " + c[0].rx + " tx " + c[1].tx + " dropped " + c[1].dropped);
await bus.close();
await eal.close();
if (pool.inUse() !== 0) throw new Error(pool.inUse() + " mbufs not returned");
`;

describe("l2fwdLoop's stop", () => {
  it("returns without deoptimizing the loop (--trace-deopt: no code after the loop that never ran), every frame flushed", async () => {
    // A file, not -e with --input-type: the lcore's worker inherits the flags, and --input-type stops a worker's load.
    const dir = ownedTempDir("loop-exit");
    const file = join(dir, "run.mjs");
    writeFileSync(file, script);
    let r: Awaited<ReturnType<typeof runOwned>>;
    try {
      r = await runOwned(process.execPath, ["--trace-deopt", file], { timeoutMs: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(r.status, r.stderr).toBe(0);
    const after = r.stdout.slice(r.stdout.indexOf("=== stop"));
    const done = /=== done passes (\d+) rx (\d+) tx (\d+) dropped (\d+)/.exec(after);
    expect(done, r.stdout.slice(-2000)).not.toBeNull();
    const [passes, rx, tx, dropped] = done!.slice(1).map(Number) as [number, number, number, number];
    expect(passes).toBeGreaterThan(0);
    expect(rx).toBeGreaterThan(0);
    // Nothing left in a TX buffer at the stop: every frame received was sent or dropped (a full TX ring).
    expect(tx + dropped).toBe(rx);
    const deopts = after.split("\n").filter((l) => /deoptimizing .*l2fwdLoop/.test(l));
    expect(deopts).toEqual([]);
  });
});

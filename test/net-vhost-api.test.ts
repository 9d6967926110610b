// net_vhost through the ethdev API (no l2fwd): both queue pairs of a
// queues=2 port polled, against DPDK testpmd's net_virtio_user with
// --rxq=2 --txq=2. l2fwd polls queue 0 of each port, as DPDK's l2fwd does
// (one RX and one TX queue per port, no option for more); an application
// that wants every pair polls each queue, as testpmd does with its streams.
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Eal } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { native } from "@tpdk/native";
import { Testpmd, tempDir, testpmdMissing } from "@tpdk/testing/e2e";
import { until } from "@tpdk/testing/until";
import { NetVhostPort, registerNetVhostQueues } from "@tpdk/vhost-user";
import { bindThreadMemory, rxBurst, txBurst } from "@tpdk/virtio-pmd";

const missing = testpmdMissing();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PAIRS = 2;

interface Rig {
  eal: Eal;
  pool: Mempool;
  mbufs: Mbufs;
  port: NetVhostPort;
}

/** EAL, a pool and a started net_vhost port listening at `sock` with two queue pairs, polled from this thread. */
function rig(sock: string): Rig {
  const eal = Eal.init({ noHuge: true, memoryMb: 128, lcores: [0] });
  cleanups.push(() => eal.close());
  bindThreadMemory(eal.mem);
  registerNetVhostQueues();
  const pool = Mempool.create(eal.mem, "nv_api_pool", { n: 8192, cacheSize: 0 });
  const port = new NetVhostPort(eal.mem, native!, 0, "net_vhost0", { iface: sock, queues: PAIRS, client: false, sealed: false });
  port.configure(PAIRS, PAIRS);
  for (let q = 0; q < PAIRS; q++) {
    port.rxQueueSetup(q, { pool });
    port.txQueueSetup(q);
  }
  port.start();
  cleanups.push(() => {
    port.close();
    expect(pool.inUse(), "mbufs back in the pool after stop and close").toBe(0);
  });
  return { eal, pool, mbufs: new Mbufs(eal.mem), port };
}

async function linkUp(r: Rig, pmd: Testpmd): Promise<void> {
  for (let i = 0; i < 600 && !r.port.linkStatus().up; i++) await sleep(25);
  expect(r.port.linkStatus().up, `link up once testpmd enabled its rings:\n${pmd.output}`).toBe(true);
}

/** This process's open eventfds, memfds and sockets (what a front-end's session holds here). */
function frontEndFds(): string {
  const out: string[] = [];
  for (const f of readdirSync("/proc/self/fd")) {
    try {
      const l = readlinkSync(`/proc/self/fd/${f}`);
      if (/eventfd|memfd|socket/.test(l)) out.push(l);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return out.sort().join(" ");
}

const xstat = (r: Rig, name: string): number => r.port.xstats().find((x) => x.name === name)!.value;

describe.skipIf(missing !== null)(`net_vhost through the API, two queue pairs, against testpmd${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("testpmd txonly on both pairs: both RX queues polled, every frame counted per queue, the sum is testpmd's TX", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const r = rig(sock);
    const pmd = Testpmd.start({ vdev: `net_virtio_user0,path=${sock},queues=${PAIRS}`, mode: "txonly", cpu: 1, prefix: "nv-api-tx", extra: ["--txpkts=60", `--rxq=${PAIRS}`, `--txq=${PAIRS}`] });
    cleanups.push(() => pmd.kill());
    await pmd.waitFor(/testpmd> /, 30_000);
    await linkUp(r, pmd);
    const got = [0, 0];
    const burst = new Uint32Array(32);
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (let q = 0; q < PAIRS; q++) {
          const n = rxBurst(0, q, burst, 32);
          for (let i = 0; i < n; i++) {
            // testpmd txonly's template: 60 bytes, IPv4.
            if (r.mbufs.pktLen(burst[i]!) !== 60) got[q] = NaN;
            r.mbufs.free(burst[i]!);
          }
          got[q]! += n;
        }
        await sleep(0); // the port's control path (messages from testpmd) runs on this event loop
      }
    })();
    pmd.command("start");
    await sleep(700);
    const [sent] = await pmd.stop();
    // What testpmd queued before its stop is taken (bounded: a shortfall fails below).
    for (let i = 0; i < 500 && got[0]! + got[1]! < sent!.txPackets; i++) await sleep(10);
    polling = false;
    await poll;
    console.log(`net_vhost API, queues=2: testpmd sent ${sent!.txPackets}, received ${got[0]} on queue 0 and ${got[1]} on queue 1`);
    expect(got[0]).toBeGreaterThan(0);
    expect(got[1]).toBeGreaterThan(0);
    expect(got[0]! + got[1]!).toBe(sent!.txPackets);
    expect([xstat(r, "rx_q0_good_packets"), xstat(r, "rx_q1_good_packets")]).toEqual(got);
    expect(r.port.stats().ipackets).toBe(sent!.txPackets);
  }, 60_000);

  it("testpmd killed while sending on both pairs and restarted: link down then up, the second testpmd's frames all counted on both queues, no fd or mbuf leaked", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const r = rig(sock);
    const start = (prefix: string): Testpmd => {
      const p = Testpmd.start({ vdev: `net_virtio_user0,path=${sock},queues=${PAIRS}`, mode: "txonly", cpu: 1, prefix, extra: ["--txpkts=60", `--rxq=${PAIRS}`, `--txq=${PAIRS}`] });
      cleanups.push(() => p.kill());
      return p;
    };
    const got = [0, 0];
    let downAt: number[] | null = null;
    const burst = new Uint32Array(32);
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (let q = 0; q < PAIRS; q++) {
          const n = rxBurst(0, q, burst, 32);
          r.mbufs.freeBulk(burst, n);
          got[q]! += n;
        }
        // The first pass that sees the link down: the killed testpmd's rings are stopped, nothing more of it comes.
        if (downAt === null && !r.port.linkStatus().up && got[0]! + got[1]! > 0) downAt = [...got];
        await sleep(0);
      }
    })();
    const fds0 = frontEndFds();
    const first = start("nv-api-kill1");
    await first.waitFor(/testpmd> /, 30_000);
    await linkUp(r, first);
    first.command("start");
    await until(() => got[0]! > 0 && got[1]! > 0, 10_000, "traffic on both queues from the first testpmd");
    await sleep(300);
    await first.kill();
    await until(() => downAt !== null, 10_000, "link down after testpmd was killed");
    const second = start("nv-api-kill2");
    await second.waitFor(/testpmd> /, 30_000);
    await linkUp(r, second);
    second.command("start");
    await sleep(700);
    const [sent] = await second.stop();
    const want = downAt![0]! + downAt![1]! + sent!.txPackets;
    await until(() => got[0]! + got[1]! >= want, 5000, "the second testpmd's frames");
    await sleep(100);
    polling = false;
    await poll;
    expect(got[0]! - downAt![0]!, "queue 0 after the restart").toBeGreaterThan(0);
    expect(got[1]! - downAt![1]!, "queue 1 after the restart").toBeGreaterThan(0);
    expect(got[0]! + got[1]!).toBe(want);
    // The second testpmd goes too: every fd the front-ends sent (memory, kicks, calls) and their sockets are closed.
    await second.kill();
    await until(() => !r.port.linkStatus().up, 10_000, "link down after the second testpmd");
    expect(frontEndFds()).toBe(fds0);
    expect(r.port.backend.counters).toMatchObject({ connections: 2, disconnects: 2, protocolErrors: 0 });
    expect(xstat(r, "vhost_quiesce_stuck")).toBe(0);
    console.log(`net_vhost API, queues=2, testpmd killed: ${downAt!.join("+")} before the kill, the second sent ${sent!.txPackets}, received ${got[0]! - downAt![0]!}+${got[1]! - downAt![1]!}`);
    // Cleanup (afterEach) closes the port and checks that every mbuf is back in the pool.
  }, 90_000);

  it("both TX queues into testpmd rxonly on both pairs: every frame the port took is counted by testpmd", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const r = rig(sock);
    // --no-flush-rx: what reaches testpmd's rings before "start" is counted too.
    const pmd = Testpmd.start({ vdev: `net_virtio_user0,path=${sock},queues=${PAIRS}`, mode: "rxonly", cpu: 1, prefix: "nv-api-rx", extra: [`--rxq=${PAIRS}`, `--txq=${PAIRS}`, "--no-flush-rx"] });
    cleanups.push(() => pmd.kill());
    await pmd.waitFor(/testpmd> /, 30_000);
    await linkUp(r, pmd);
    pmd.command("start");
    await sleep(300);
    const sent = [0, 0];
    const pkts = new Uint32Array(32);
    const end = Date.now() + 700;
    while (Date.now() < end) {
      for (let q = 0; q < PAIRS; q++) {
        const n = r.pool.allocBulk(pkts, 32) ? 32 : 0;
        for (let i = 0; i < n; i++) {
          const m = pkts[i]!;
          r.mbufs.append(m, 60);
          const a = r.mbufs.dataAddr(m);
          r.eal.mem.u8.fill(0, a, a + 60);
          r.eal.mem.u8[a] = 0x02; // a unicast destination
          r.eal.mem.u8[a + 14] = q;
        }
        const k = txBurst(0, q, pkts, n);
        r.mbufs.freeBulk(pkts, n - k, k);
        sent[q]! += k;
      }
      await sleep(0);
    }
    await sleep(1000); // testpmd takes what is in its rings
    const [got] = await pmd.stop();
    console.log(`net_vhost API, queues=2: sent ${sent[0]} on queue 0 and ${sent[1]} on queue 1, testpmd received ${got!.rxPackets}`);
    expect(sent[0]).toBeGreaterThan(0);
    expect(sent[1]).toBeGreaterThan(0);
    expect([xstat(r, "tx_q0_good_packets"), xstat(r, "tx_q1_good_packets")]).toEqual(sent);
    expect(got!.rxPackets).toBe(sent[0]! + sent[1]!);
  }, 60_000);
});

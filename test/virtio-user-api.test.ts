// net_virtio_user through the ethdev API (no l2fwd): what l2fwd's one queue
// per port does not reach. Two queue pairs, and MRG_RXBUF with frames longer
// than one receive buffer, against DPDK's vhost back-end (testpmd txonly).
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Eal } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { native } from "@tpdk/native";
import { Testpmd, tempDir, testpmdMissing } from "@tpdk/testing/e2e";
import { VhostUserTransport, parseVirtioUserArgs } from "@tpdk/vhost-user";
import { type VirtioPmdOptions, VirtioPort, bindThreadMemory, rxBurst, txBurst } from "@tpdk/virtio-pmd";
import { NET_CFG_MAC, SPACE_DEVICE_CFG, featureNames } from "@tpdk/virtio";

const missing = testpmdMissing();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rig {
  eal: Eal;
  pool: Mempool;
  mbufs: Mbufs;
  port: VirtioPort;
}

/** EAL on a memfd, a pool, and a net_virtio_user port on `sock` with `queues` pairs, started. */
async function rig(sock: string, queues: number, dataRoom: number, options: VirtioPmdOptions = {}): Promise<Rig & { t: VhostUserTransport }> {
  const eal = Eal.init({ sharedMemory: true, noHuge: true, memoryMb: 128, lcores: [0] });
  cleanups.push(() => eal.close());
  bindThreadMemory(eal.mem);
  const pool = Mempool.create(eal.mem, "vu_api_pool", { n: 8192, cacheSize: 0, dataRoomSize: dataRoom });
  const user = parseVirtioUserArgs("net_virtio_user0", new Map([["path", sock]]), 256, undefined);
  const t = VhostUserTransport.open(eal.mem, native!, eal.memoryFd, "net_virtio_user0", { ...user, queues });
  cleanups.push(() => t.close());
  const port = VirtioPort.probe(eal.mem, { portId: 0, name: "net_virtio_user0", transport: t, options: { queueSize: 256, ...options } });
  cleanups.push(() => {
    port.stop();
    port.close();
    expect(pool.inUse(), "mbufs back in the pool after stop and close").toBe(0);
  });
  port.configure(queues, queues);
  for (let q = 0; q < queues; q++) {
    port.rxQueueSetup(q, { pool });
    port.txQueueSetup(q);
  }
  port.start();
  return { eal, pool, mbufs: new Mbufs(eal.mem), port, t };
}

/** Poll every RX queue until `ms` pass; frees what it receives through `look`. */
async function drain(r: Rig, queues: number, ms: number, look: (q: number, m: number) => void): Promise<number[]> {
  const got = new Array<number>(queues).fill(0);
  const burst = new Uint32Array(32);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (let q = 0; q < queues; q++) {
      const n = rxBurst(0, q, burst, 32);
      for (let i = 0; i < n; i++) {
        look(q, burst[i]!);
        r.mbufs.free(burst[i]!);
      }
      got[q]! += n;
    }
    await sleep(0);
  }
  return got;
}

describe.skipIf(missing !== null)(`net_virtio_user through the API against testpmd${missing ? ` (skipped: ${missing})` : ""}`, () => {
  // packed: packed rings (virtio 1.2 §2.8) on every queue, the control queue (answered in the front-end) included.
  it.each([false, true])("two queue pairs: VQ_PAIRS_SET enables both, testpmd sends on both, every frame is received (packed_vq=%s)", async (packed) => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const pmd = Testpmd.start({ vdev: `net_vhost0,iface=${sock},queues=2`, mode: "txonly", cpu: 1, prefix: "vu-mq", extra: ["--txpkts=60", "--rxq=2", "--txq=2"] });
    cleanups.push(() => pmd.kill());
    await pmd.waitFor(/testpmd> /, 30_000);
    const r = await rig(sock, 2, 2176, packed ? { packedVq: true } : {});
    expect(r.port.packed).toBe(packed);
    expect(featureNames(r.port.features())).toEqual(expect.arrayContaining(["CTRL_VQ", "MQ"]));
    pmd.command("start");
    const during = drain(r, 2, 1500, () => undefined);
    await sleep(700);
    const [sent] = await pmd.stop();
    const got = await during;
    expect(got[0]).toBeGreaterThan(0);
    expect(got[1]).toBeGreaterThan(0);
    expect(got[0]! + got[1]!).toBe(sent!.txPackets);
  }, 60_000);

  it("packed_vq=1 with mac=: MAC_ADDR_SET on the packed control queue sets the MAC, testpmd's frames all arrive", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const pmd = Testpmd.start({ vdev: `net_vhost0,iface=${sock},queues=1`, mode: "txonly", cpu: 1, prefix: "vu-pmac", extra: ["--txpkts=60"] });
    cleanups.push(() => pmd.kill());
    await pmd.waitFor(/testpmd> /, 30_000);
    const mac = [0x02, 0, 0, 0, 0x0a, 0x01];
    const r = await rig(sock, 1, 2176, { packedVq: true, mac: Uint8Array.from(mac) });
    expect(featureNames(r.port.features())).toEqual(expect.arrayContaining(["RING_PACKED", "CTRL_VQ", "CTRL_MAC_ADDR"]));
    // The front-end's config mac shows what the driver's MAC_ADDR_SET carried (the driver never writes the config).
    expect(mac.map((_, i) => r.t.read(SPACE_DEVICE_CFG, NET_CFG_MAC + i, 1))).toEqual(mac);
    pmd.command("start");
    const during = drain(r, 1, 1500, () => undefined);
    await sleep(500);
    const [sent] = await pmd.stop();
    const got = await during;
    expect(got[0]).toBeGreaterThan(0);
    expect(got[0]).toBe(sent!.txPackets);
  }, 60_000);

  it("MRG_RXBUF: 1500-byte frames into 512-byte buffers arrive as whole multi-segment chains", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const pmd = Testpmd.start({ vdev: `net_vhost0,iface=${sock},queues=1`, mode: "txonly", cpu: 1, prefix: "vu-mrg", extra: ["--txpkts=1500"] });
    cleanups.push(() => pmd.kill());
    await pmd.waitFor(/testpmd> /, 30_000);
    const r = await rig(sock, 1, 128 + 512);
    let chains = 0;
    let bad = 0;
    let first: Uint8Array | null = null;
    const look = (_q: number, m: number): void => {
      if (r.mbufs.pktLen(m) !== 1500 || r.mbufs.nbSegs(m) < 3) bad++;
      else chains++;
      if (!first) {
        // Gather the chain's bytes to check testpmd's template.
        const out = new Uint8Array(1500);
        let off = 0;
        for (let s = m; s !== 0; s = r.mbufs.next(s)) {
          const a = r.mbufs.dataAddr(s);
          const l = r.mbufs.dataLen(s);
          out.set(r.eal.mem.u8.subarray(a, a + l), off);
          off += l;
        }
        first = out;
      }
    };
    pmd.command("start");
    const during = drain(r, 1, 1500, look);
    await sleep(500);
    const [sent] = await pmd.stop();
    await during;
    expect(bad).toBe(0);
    expect(chains).toBe(sent!.txPackets);
    expect(chains).toBeGreaterThan(0);
    const f = first!;
    expect((f[12]! << 8) | f[13]!).toBe(0x0800);
    expect([...f.subarray(26, 34)]).toEqual([198, 18, 0, 1, 198, 18, 0, 2]);
    expect((f[16]! << 8) | f[17]!).toBe(1500 - 14); // IPv4 total length
  }, 60_000);
  // virtio-pmd QueueBase.kick writes the kick eventfd itself (DPDK's virtio-user does the same from its
  // data-path thread): the transport publishes each data ring's eventfd in its kick-fd words while the
  // rings run, -1 otherwise; nothing goes through the doorbell (whose main-thread forwarder allocated).
  it("data-path kicks are eventfd writes by the bursting thread; kick-fd words follow the rings (split, EVENT_IDX)", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const sock = join(t.dir, "vhost.sock");
    const pmd = Testpmd.start({ vdev: `net_vhost0,iface=${sock},queues=1`, mode: "rxonly", cpu: 1, prefix: "vu-kickfd" });
    cleanups.push(() => pmd.kill());
    await pmd.waitFor(/testpmd> /, 30_000);
    const r = await rig(sock, 1, 2176);
    expect(featureNames(r.port.features())).toContain("EVENT_IDX");
    const i32 = r.eal.mem.i32;
    const txWord = r.t.kickFdAddr(1) >>> 2;
    expect(txWord).toBeGreaterThan(0);
    expect(r.t.kickFdAddr(2)).toBe(0); // the control queue's kicks are answered on the main thread
    const fd = Atomics.load(i32, txWord);
    expect(fd).toBeGreaterThanOrEqual(0);
    pmd.command("start");
    const bell = Atomics.load(i32, r.t.doorbellAddr() >>> 2);
    const burst = new Uint32Array(32);
    for (let b = 0; b < 8; b++) {
      for (let i = 0; i < 32; i++) {
        const m = r.pool.alloc();
        r.mbufs.setDataLen(m, 60);
        r.mbufs.setPktLen(m, 60);
        burst[i] = m;
      }
      const sent = txBurst(0, 0, burst, 32);
      for (let i = sent; i < 32; i++) r.mbufs.free(burst[i]!);
      await sleep(5);
    }
    const kicks = r.port.xstats().find((x) => x.name === "tx_q0_kicks")!.value;
    expect(kicks).toBeGreaterThanOrEqual(1); // avail.idx 0 -> 32 crossed avail_event 0 (virtio 1.2 §2.7.10)
    // testpmd polls and never reads the eventfd: every kick is still in its counter.
    expect(native!.eventfdRead(fd)).toBe(kicks);
    expect(Atomics.load(i32, r.t.doorbellAddr() >>> 2)).toBe(bell);
    expect(Atomics.load(i32, txWord + 1)).toBe(0);
    await pmd.stop();
    r.port.stop(); // status 0: the rings stop, no thread may write their eventfds
    expect(Atomics.load(i32, txWord)).toBe(-1);
  }, 60_000);
});

// Faults: the device thread dies. The driver notices from a main-thread timer
// (the transport heartbeat stops moving), marks the link down and counts it;
// stop()/close() return at once without touching the dead device and still
// free every mbuf the rings hold. l2fwd reports it in one line, stops its
// lcores and exits 1; nothing hangs. Its threads load the compiled dist/ (the test
// command builds first).
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { Vhost } from "@tpdk/vhost";
import { testWireSpec } from "@tpdk/testing/vhost";
import { RxQueue, SharedMemoryTransport, TxQueue, VirtioPort } from "@tpdk/virtio-pmd";
import { lastJson, runL2fwd, tempDir } from "@tpdk/testing/e2e";

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (cleanup) await cleanup();
  cleanup = null;
});

const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A transport that counts register accesses (traps), so the test can prove none are made. */
class CountingTransport extends SharedMemoryTransport {
  traps = 0;
  override read(space: number, off: number, width: 1 | 2 | 4): number {
    this.traps++;
    return super.read(space, off, width);
  }
  override write(space: number, off: number, width: 1 | 2 | 4, value: number): void {
    this.traps++;
    super.write(space, off, width, value);
  }
}

function frames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const f = new Uint8Array(60 + (i % 40));
    f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5, i & 0xff]);
    return f;
  });
}

describe("the device thread dies (in-process, vhost.kill())", () => {
  it("the heartbeat watchdog marks the link down and counts it; stop/close make no trap and free every mbuf", async () => {
    const mem = Memory.create(64 << 20);
    const vhost = new Vhost(mem, {});
    const dev = vhost.addDevice({ name: "virtio0", wire: testWireSpec(mem, "fd.wire", frames(64), { repeat: 0 }) });
    await vhost.start();
    cleanup = () => vhost.stop().catch(() => {});
    const transport = new CountingTransport(mem, dev.transportOffset, { name: "virtio0" });
    const port = VirtioPort.probe(mem, { portId: 0, transport, options: { queueSize: 256, heartbeatTimeoutMs: 1000 } });
    const pool = Mempool.create(mem, "fd", { n: 2048, cacheSize: 0, debug: true });
    port.configure(1, 1);
    port.rxQueueSetup(0, { pool });
    port.txQueueSetup(0);
    port.start();
    const rxq = RxQueue.attach(mem, 0, 0);
    const txq = TxQueue.attach(mem, 0, 0);
    const mbufs = new Mbufs(mem);

    // Traffic flows and the watchdog is happy while the thread lives.
    const arr = new Uint32Array(32);
    const held: number[] = [];
    let got = 0;
    for (let i = 0; i < 200 && got < 500; i++) {
      const n = rxq.rxBurst(arr, 32);
      for (let k = 0; k < n; k++) held.push(arr[k]!);
      got += n;
      // Keep some, loop some back out.
      while (held.length > 64) {
        const m = held.pop()!;
        if (txq.txBurst(Uint32Array.of(m), 1) !== 1) mbufs.free(m);
      }
      expect(port.checkDevice()).toBe(true);
      await nap(2);
    }
    expect(got).toBeGreaterThan(0);
    expect(port.linkStatus().up).toBe(true);

    await vhost.kill();
    // Packets sent to a dead device stay in its ring.
    for (let i = 0; i < 16 && held.length > 0; i++) {
      const m = held.pop()!;
      if (txq.txBurst(Uint32Array.of(m), 1) !== 1) mbufs.free(m);
    }
    const deadline = Date.now() + 20_000;
    while (port.checkDevice() && Date.now() < deadline) await nap(20);
    expect(port.deviceFault).toMatch(/^no heartbeat for \d+ ms$/);
    const traps = transport.traps;
    expect(port.linkStatus().up).toBe(false);
    expect(port.xstats().find((x) => x.name === "device_not_answering")?.value).toBe(1);
    // The data path keeps working against the rings: what the device wrote before it died is
    // still received, then nothing more comes; nothing throws.
    for (let i = 0, n = 1; i < 1000 && n > 0; i++) {
      n = rxq.rxBurst(arr, 32);
      for (let k = 0; k < n; k++) mbufs.free(arr[k]!);
    }
    expect(rxq.rxBurst(arr, 32)).toBe(0);
    port.stop();
    port.close();
    expect(transport.traps).toBe(traps);
    for (const m of held) mbufs.free(m);
    expect(pool.available()).toBe(pool.size);
  });
});

describe("l2fwd when its device thread dies", () => {
  const KILL = { TPDK_TEST_KILL_DEVICE_AFTER_MS: "400" };
  const REPORT = /^l2fwd: device thread stopped answering \(port \d+: no heartbeat for \d+ ms\); exiting$/m;

  it("gen -> sink, one lcore: one line naming the port and the silence, final statistics, exit 1", async () => {
    const r = await runL2fwd(
      ["-l", "0", "--vdev", "virtio0,wire=gen,rate=50000", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"],
      60_000,
      KILL,
    );
    expect(r.stderr).toMatch(REPORT);
    expect(r.stderr.match(/stopped answering/g)).toHaveLength(1);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("Bye...");
    expect(r.stderr).not.toMatch(/were not returned/); // every mbuf came back, rings included
    const s = lastJson(r.stdout);
    expect(s.ports[0]!.rx).toBeGreaterThan(0);
    expect(s.ports[0]!.rx).toBe(s.ports[1]!.tx! + s.ports[1]!.dropped!);
  });

  it("4 ports on 2 lcores with a pcap output: nothing hangs, exit 1", async () => {
    const t = tempDir();
    try {
      const r = await runL2fwd(
        [
          "-l", "0-1",
          "--vdev", "virtio0,wire=gen,rate=20000",
          "--vdev", `virtio1,wire=pcap,tx_pcap=${join(t.dir, "out.pcap")}`,
          "--vdev", "virtio2,wire=gen,rate=20000,size=1518",
          "--vdev", "virtio3,wire=sink",
          "--", "-p", "0xf", "-q", "2", "-T", "0",
        ],
        60_000,
        KILL,
      );
      expect(r.stderr).toMatch(REPORT);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("Port statistics");
      expect(r.stderr).not.toMatch(/were not returned/);
    } finally {
      t.cleanup();
    }
  });
});

// net_vhost with packed virtqueues (virtio 1.2 §2.8) against DPDK's
// virtio_user with packed_vq=1: RING_PACKED is offered, the front-end takes
// it, and the device core's packed queue (PackedDeviceQueue, the walk the
// built-in device runs) serves the rings from l2fwd's lcore. Every frame
// counted on both sides; txonly frames byte-checked through a pcap.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { native, nativeMissingReason } from "@tpdk/native";
import { PeerSession, SHARED_CPU, lastJson, readPcap, testpmdMissing } from "@tpdk/testing/e2e";

const missing = testpmdMissing() ?? (native ? null : `the native addon is not built: ${nativeMissingReason}`);
const peers = new PeerSession();
afterEach(peers.close);
const { sockDir, testpmd, l2fwd } = peers;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listening(sock: string): Promise<void> {
  for (let i = 0; i < 400 && !existsSync(sock); i++) await sleep(25);
  expect(existsSync(sock), `l2fwd listens at ${sock}`).toBe(true);
}

describe.skipIf(missing !== null)(`net_vhost packed rings against DPDK testpmd's virtio_user packed_vq=1${missing ? ` (skipped: ${missing})` : ""}`, () => {
  for (const v of [{ name: "IN_ORDER, MRG_RXBUF, 256 entries", keys: "" }, { name: "in_order=0, queue_size=1000 (not a power of two)", keys: ",in_order=0,queue_size=1000" }]) {
    it(`testpmd txonly into l2fwd's net_vhost port: every frame received and written, byte-checked (${v.name})`, async () => {
      const dir = sockDir();
      const sock = join(dir, "vhost.sock");
      const out = join(dir, "out.pcap");
      const l2 = l2fwd([
        "-l", "0", "--no-huge", "--vdev", `net_vhost0,iface=${sock}`, "--vdev", `virtio1,wire=pcap,tx_pcap=${out}`,
        "--", "-p", "0x3", "-q", "2", "--no-mac-updating", "-T", "0", "--json",
      ]);
      await listening(sock);
      const pmd = await testpmd({ vdev: `net_virtio_user0,path=${sock},packed_vq=1${v.keys}`, mode: "txonly", cpu: SHARED_CPU, prefix: "nv-ptx", extra: ["--txpkts=60"] });
      await l2.waitFor(/Port 0 Link up/, 20_000);
      await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
      await sleep(1000);
      pmd.command("start");
      await sleep(800);
      const [sent] = await pmd.stop();
      await sleep(500);
      l2.signal("SIGINT");
      const r = await l2.done;
      expect(r.code, r.stderr).toBe(0);
      expect(sent!.txPackets).toBeGreaterThan(1000);
      const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
      expect(p0.rx, JSON.stringify(lastJson(r.stdout).ports)).toBe(sent!.txPackets);
      // The rings were packed ones (the port counts connections that negotiated RING_PACKED).
      expect((p0 as unknown as { xstats: Record<string, number> }).xstats.vhost_packed_connections).toBe(1);
      expect(p1.tx! + p1.dropped!).toBe(p0.rx);
      const frames = readPcap(out);
      expect(frames.length).toBe(p1.tx);
      const f0 = frames[0]!;
      expect(f0.length).toBe(60);
      expect([...f0.subarray(26, 34)]).toEqual([198, 18, 0, 1, 198, 18, 0, 2]);
      for (const f of frames) expect(Buffer.compare(Buffer.from(f), Buffer.from(f0))).toBe(0);
    }, 60_000);
  }

  it("l2fwd into testpmd rxonly on packed rings: every frame the net_vhost port enqueued is counted by testpmd", async () => {
    const dir = sockDir();
    const sock = join(dir, "vhost.sock");
    const count = 100_000;
    const l2 = l2fwd([
      "-l", "0", "--no-huge", "--vdev", `virtio0,wire=gen,count=${count},rate=50k`, "--vdev", `net_vhost1,iface=${sock}`,
      "--", "-p", "0x3", "-q", "2", "-T", "0", "--json",
    ]);
    await listening(sock);
    const pmd = await testpmd({ vdev: `net_virtio_user0,path=${sock},packed_vq=1,queue_size=1024`, mode: "rxonly", cpu: SHARED_CPU, prefix: "nv-prx", extra: ["--no-flush-rx"] });
    pmd.command("start");
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(3500);
    // l2fwd first, as in net-vhost-dpdk's rxonly test: testpmd drains its own ring afterwards.
    l2.signal("SIGINT");
    const r = await l2.done;
    await sleep(500);
    const [got] = await pmd.stop();
    expect(r.code, r.stderr).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx! + p0.missed!).toBe(count);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    expect(p1.tx, JSON.stringify(lastJson(r.stdout).ports)).toBeGreaterThan(1000);
    expect((p1 as unknown as { xstats: Record<string, number> }).xstats.vhost_packed_connections).toBe(1);
    // Never more than enqueued; the exact equality is skipped in net-vhost-dpdk.test.ts with its reason (issue 12).
    expect(got!.rxPackets).toBeLessThanOrEqual(p1.tx!);
    expect(got!.rxPackets).toBeGreaterThan(1000);
  }, 60_000);
});

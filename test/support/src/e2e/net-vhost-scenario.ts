// l2fwd with a net_vhost port facing DPDK testpmd's net_virtio_user: the
// setup the net_vhost end-to-end tests share (l2fwd listens on a socket in a
// temporary folder, testpmd connects, split or packed rings), the order in
// which they are stopped so both sides' counters are final, and the two
// directions as scenarios: testpmd txonly into the port, and the port into
// testpmd rxonly. Every process and file belongs to the PeerSession.
import { join } from "node:path";
import { lastJson, readPcap } from "./l2fwd.js";
import { type PeerSession, SHARED_CPU } from "./peer-session.js";
import { type PortStats, type Testpmd, type TestpmdOptions, type WatchedL2fwd } from "./testpmd.js";
import { freeUdpPort, udpSocket } from "./udp.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** l2fwd's per-port JSON counters (xstats included for net_vhost ports). */
export type NetVhostPortJson = Record<string, number> & { xstats?: Record<string, number> };

export interface NetVhostPeers {
  dir: string;
  /** The vhost-user socket l2fwd's net_vhost port listens on. */
  sock: string;
  l2: WatchedL2fwd;
  pmd: Testpmd;
}

export interface NetVhostPeersOptions {
  /** l2fwd's --vdev strings, given the socket and the temporary folder (the net_vhost one among them). */
  l2fwdVdevs: (sock: string, dir: string) => string[];
  /** l2fwd's application arguments (after --); -T 0 --json are added. */
  l2fwdApp: string[];
  /** testpmd's forwarding mode and its DPDK runtime prefix. */
  mode: TestpmdOptions["mode"];
  prefix: string;
  /** Keys added to testpmd's net_virtio_user vdev (",queues=2", ",mrg_rxbuf=1"...). */
  frontEndKeys?: string;
  /** packed_vq=1 on the front-end (virtio 1.2 §2.8 rings). */
  packed?: boolean;
  /** testpmd --vdev strings placed before the front-end (its ports come first). */
  vdevsBefore?: string[];
  extra?: string[];
}

/** l2fwd with its net_vhost port listening, then testpmd connected and at its prompt. */
export async function netVhostPeers(peers: PeerSession, o: NetVhostPeersOptions): Promise<NetVhostPeers> {
  const dir = peers.sockDir();
  const sock = join(dir, "vhost.sock");
  const l2 = peers.l2fwd(["-l", "0", "--no-huge", ...o.l2fwdVdevs(sock, dir).flatMap((v) => ["--vdev", v]), "--", ...o.l2fwdApp, "-T", "0", "--json"]);
  await l2.waitForPath(sock);
  const fe = `net_virtio_user${o.vdevsBefore?.length ?? 0},path=${sock}${o.packed ? ",packed_vq=1" : ""}${o.frontEndKeys ?? ""}`;
  const pmd = await peers.testpmd({ vdev: [...(o.vdevsBefore ?? []), fe], mode: o.mode, cpu: SHARED_CPU, prefix: o.prefix, extra: o.extra });
  return { dir, sock, l2, pmd };
}

/** SIGINT to l2fwd, its exit awaited; its last JSON counters per port. Throws with its output if it did not exit 0. */
export async function stopL2fwd(l2: WatchedL2fwd): Promise<NetVhostPortJson[]> {
  l2.signal("SIGINT");
  const r = await l2.done;
  if (r.code !== 0) throw new Error(`l2fwd exited ${r.code} (${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return lastJson(r.stdout).ports as NetVhostPortJson[];
}

export interface TxonlyResult {
  /** testpmd's counters of its virtio_user port. */
  sent: PortStats;
  /** l2fwd's net_vhost port (0) and its pcap port (1). */
  ports: NetVhostPortJson[];
  /** What the pcap port wrote. */
  frames: Uint8Array[];
}

/**
 * testpmd txonly (60-byte frames) into l2fwd's net_vhost port 0, forwarded
 * unchanged to a pcap port 1. `keys` go to both ends (",queues=2"),
 * `frontEndKeys` to testpmd's only. testpmd stops first, then l2fwd: every frame
 * testpmd counted as sent is in l2fwd's counters.
 */
export async function txonlyIntoNetVhost(peers: PeerSession, o: { prefix: string; packed?: boolean; keys?: string; frontEndKeys?: string }): Promise<TxonlyResult> {
  const { dir, l2, pmd } = await netVhostPeers(peers, {
    l2fwdVdevs: (sock, d) => [`net_vhost0,iface=${sock}${o.keys ?? ""}`, `virtio1,wire=pcap,tx_pcap=${join(d, "out.pcap")}`],
    l2fwdApp: ["-p", "0x3", "-q", "2", "--no-mac-updating"],
    mode: "txonly", prefix: o.prefix, packed: o.packed, frontEndKeys: `${o.keys ?? ""}${o.frontEndKeys ?? ""}`, extra: ["--txpkts=60"],
  });
  await l2.waitFor(/Port 0 Link up/, 20_000);
  await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
  await sleep(1000); // the lcore thread starts polling
  pmd.command("start");
  await sleep(800);
  const [sent] = await pmd.stop();
  await sleep(500);
  const ports = await stopL2fwd(l2);
  return { sent: sent!, ports, frames: readPcap(join(dir, "out.pcap")) };
}

export interface RxonlyResult {
  /** testpmd's counters of its virtio_user port. */
  got: PortStats;
  /** l2fwd's udp port (0) and its net_vhost port (1). */
  ports: NetVhostPortJson[];
  /** Frames the test sent to the udp port. */
  offered: number;
  /** What came back to the test's socket from the udp port (testpmd modes that send: macswap). */
  back: Uint8Array[];
}

/**
 * Frames into l2fwd's udp port 0, forwarded to its net_vhost port 1, into
 * testpmd rxonly (or macswap: then what testpmd sends back goes out of the
 * udp port to the test's socket, `back`; with `capture` frames are sent
 * unchanged, --no-mac-updating). The traffic starts only once testpmd's port has started
 * (its prompt): DPDK's virtio PMD discards whatever the back-end put in its
 * receive ring before rte_eth_dev_start ended (virtio_dev_start posts the
 * buffers, then virtqueue_rxvq_flush frees what is already used), while the
 * link is up from DRIVER_OK at probe on; a source running from l2fwd's
 * launch would have frames counted as sent by the port and flushed by
 * testpmd (packages/vdev/README.md, "Frames a front-end discards at start").
 * l2fwd stops first; testpmd keeps polling its ring (its own memory) and
 * drains it before it is stopped. The udp port's device thread shares the
 * CPUs with testpmd's and l2fwd's pollers: 5 s of heartbeat, not 2.
 */
export async function netVhostIntoRxonly(peers: PeerSession, o: { prefix: string; packed?: boolean; frames?: number; pps?: number; mode?: "rxonly" | "macswap"; capture?: Uint8Array[] }): Promise<RxonlyResult> {
  const total = o.frames ?? 60_000;
  const pps = o.pps ?? 50_000;
  const src = await udpSocket();
  const back: Uint8Array[] = [];
  src.on("message", (m) => back.push(new Uint8Array(m)));
  try {
    const port = await freeUdpPort();
    const { l2, pmd } = await netVhostPeers(peers, {
      l2fwdVdevs: (sock) => [`virtio0,wire=udp,local=127.0.0.1:${port},remote=127.0.0.1:${src.address().port},heartbeat_timeout_ms=5000`, `net_vhost1,iface=${sock}`],
      l2fwdApp: ["-p", "0x3", "-q", "2", ...(o.capture ? ["--no-mac-updating"] : [])],
      mode: o.mode ?? "rxonly", prefix: o.prefix, packed: o.packed, frontEndKeys: ",queue_size=1024", extra: ["--no-flush-rx"],
    });
    pmd.command("start");
    await l2.waitFor(/Port 1 Link up/, 20_000);
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    await sleep(500); // the lcore thread starts polling
    await sendPaced(src, port, total, pps, o.capture);
    await sleep(500);
    const ports = await stopL2fwd(l2);
    await sleep(500);
    const [got] = await pmd.stop();
    return { got: got!, ports, offered: total, back };
  } finally {
    src.close();
  }
}

/**
 * `n` frames, one per datagram, `pps` per second in 2 ms slices: the capture's frames in a loop,
 * or 60-byte IPv4 frames (byte 14.. a sequence number).
 */
async function sendPaced(s: Awaited<ReturnType<typeof udpSocket>>, port: number, n: number, pps: number, capture?: Uint8Array[]): Promise<void> {
  const perSlice = Math.max(1, Math.round(pps / 500));
  const t0 = performance.now();
  for (let sent = 0; sent < n;) {
    const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * pps) + perSlice);
    for (; sent < due; sent++) {
      if (capture) {
        s.send(capture[sent % capture.length]!, port, "127.0.0.1");
        continue;
      }
      const f = Buffer.alloc(60);
      f.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00], 0);
      f.writeUInt32BE(sent, 14);
      s.send(f, port, "127.0.0.1");
    }
    await sleep(2);
  }
}

/**
 * `n` IPv4-typed frames of `lenOf(i)` bytes (02:..:aa <- 02:..:bb), bytes 14-15
 * the index i (little-endian), byte b > 15 = (i * salt + b) & 0xff: a frame
 * that comes back can be matched to its original and checked byte for byte.
 */
export function indexedFrames(n: number, lenOf: (i: number) => number, salt = 1): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = lenOf(i);
    const f = new Uint8Array(len);
    f.set([0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb, 0x08, 0x00, i & 0xff, i >> 8], 0);
    for (let b = 16; b < len; b++) f[b] = (i * salt + b) & 0xff;
    frames.push(f);
  }
  return frames;
}

// wire=loop across threads: two devices joined by a loop wire, served by the
// real device thread, driven by the real driver on this thread (the lcore).
//
//   txBurst(port 0) --> device 0 TX --> loop wire --> device 1 RX --> rxBurst(port 1)
//   rxBurst(port 0) <-- device 0 RX <-- loop wire <-- device 1 TX <-- txBurst(port 1)
//
// Frames arrive intact and in order; when port 1 stops taking frames the
// loop drops at port 1 (missed) and the counters say exactly where each
// frame went. Its threads load the compiled dist/ (the test command builds first).
import { afterEach, describe, expect, it } from "vitest";
import { Backoff, Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { Vhost, type VhostDevice } from "@tpdk/vhost";
import { VirtioPort, bindThreadMemory, rxBurst, txBurst } from "@tpdk/virtio-pmd";
import { wireSpec as spec } from "@tpdk/testing/vhost";
import { startPorts } from "@tpdk/testing/e2e";
import { until } from "@tpdk/testing/until";


function makeFrame(i: number, from: number): Uint8Array {
  const len = 60 + ((i * 131 + from * 7) % 1455);
  const f = new Uint8Array(len);
  f.set([0x02, 0, 0, 0, 0, 1 - from, 0x02, 0, 0, 0, 0, from, 0x88, 0xb5]);
  f[14] = from;
  f[15] = i & 0xff;
  f[16] = (i >>> 8) & 0xff;
  for (let k = 17; k < len; k++) f[k] = (i * 31 + k * 13 + from) & 0xff;
  return f;
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (cleanup) await cleanup();
  cleanup = null;
});

interface Bench {
  mem: Memory;
  vhost: Vhost;
  devs: VhostDevice[];
  ports: VirtioPort[];
  pool: Mempool;
  mbufs: Mbufs;
  backoff: Backoff;
}

async function setUp(queueSize: number): Promise<Bench> {
  const mem = Memory.create(96 << 20);
  const vhost = new Vhost(mem, {});
  const devs = [
    vhost.addDevice({ name: "virtio0", wire: spec("virtio0,wire=loop,peer=1,check=1") }),
    vhost.addDevice({ name: "virtio1", wire: spec("virtio1,wire=loop,peer=0") }),
  ];
  await vhost.start();
  const ports: VirtioPort[] = [];
  cleanup = async () => {
    for (const p of ports) p.close();
    await vhost.stop();
  };
  const pool = Mempool.create(mem, "loop", { n: 4 * queueSize + 2048, cacheSize: 0 });
  startPorts(mem, devs, pool, queueSize, ports);
  bindThreadMemory(mem);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  return { mem, vhost, devs, ports, pool, mbufs: new Mbufs(mem), backoff: new Backoff(nap, 0, false, { spinPasses: 16, maxWaitMs: 0.5 }) };
}

/** Send frames[from..to) out of `port`, retrying while the TX ring is full. */
function send(b: Bench, port: number, frames: Uint8Array[], from: number, to: number, deadline: number): void {
  const arr = new Uint32Array(64);
  for (let i = from; i < to; ) {
    const n = Math.min(32, to - i);
    for (let k = 0; k < n; k++) {
      const m = b.pool.alloc();
      if (m === 0) throw new Error("mbuf pool empty");
      const f = frames[i + k]!;
      const a = b.mbufs.append(m, f.length);
      b.mem.u8.set(f, a);
      arr[k] = m;
    }
    let sent = 0;
    while (sent < n) {
      const k = txBurst(port, 0, arr, n - sent, sent);
      sent += k;
      if (k === 0) {
        if (Date.now() > deadline) throw new Error("tx stuck");
        b.backoff.idle();
      }
    }
    b.backoff.reset();
    i += n;
  }
}

/** Receive on `port` and check each frame against want[got++]; returns the new count. */
function receive(b: Bench, port: number, want: Uint8Array[], got: number): number {
  const arr = new Uint32Array(32);
  const n = rxBurst(port, 0, arr, 32);
  for (let i = 0; i < n; i++) {
    const m = arr[i]!;
    const w = want[got]!;
    if (w === undefined) throw new Error(`port ${port}: frame ${got} was never sent`);
    if (b.mbufs.pktLen(m) !== w.length || b.mbufs.nbSegs(m) !== 1) throw new Error(`port ${port}: frame ${got} has ${b.mbufs.pktLen(m)} bytes, want ${w.length}`);
    const a = b.mbufs.dataAddr(m);
    for (let k = 0; k < w.length; k++) {
      if (b.mem.u8[a + k] !== w[k]) throw new Error(`port ${port}: frame ${got} differs at byte ${k}`);
    }
    b.mbufs.free(m);
    got++;
  }
  return got;
}

describe("wire=loop across threads, with the real driver", () => {
  it("frames sent on one port arrive on its peer intact and in order, both ways; counters balance", async () => {
    const b = await setUp(1024);
    const deadline = Date.now() + 60_000;
    const N = 5000;
    for (const [from, to] of [[0, 1], [1, 0]] as const) {
      const frames = Array.from({ length: N }, (_, i) => makeFrame(i, from));
      let sentUpTo = 0;
      let got = 0;
      // Keep fewer frames in flight than port `to` has RX buffers: a cable drops what finds none.
      while (got < N) {
        if (Date.now() > deadline) throw new Error(`timed out: ${got}/${N} on port ${to}`);
        if (sentUpTo - got < 256 && sentUpTo < N) {
          const next = Math.min(N, sentUpTo + 64);
          send(b, from, frames, sentUpTo, next, deadline);
          sentUpTo = next;
        }
        const before = got;
        got = receive(b, to, frames, got);
        if (got === before) b.backoff.idle();
        else b.backoff.reset();
      }
    }
    const bytes = Array.from({ length: N }, (_, i) => makeFrame(i, 0).length).reduce((s, l) => s + l, 0);
    await until(() => b.devs[0]!.wireStats().generated === N, 20_000, "wire 0 to count every frame", { every: 2 });
    const w0 = b.devs[0]!.wireStats();
    const w1 = b.devs[1]!.wireStats();
    expect(w1).toMatchObject({ kind: "loop", generated: N, generatedBytes: bytes, missed: 0, overflow: 0, received: N, exhausted: false });
    expect(w0).toMatchObject({ kind: "loop", generated: N, missed: 0, overflow: 0, received: N, foreign: N });
    expect(b.devs[1]!.stats()).toMatchObject({ rxPackets: N, rxMissed: 0, txPackets: N });
    expect(b.ports[1]!.stats()).toMatchObject({ ipackets: N, ibytes: bytes, opackets: N });
    expect(b.devs[0]!.inputExhausted()).toBe(false); // a loop's input is whatever the peer sends
  });

  it("a peer that takes no frames misses them: generated = delivered + missed at the peer, exactly", async () => {
    const b = await setUp(256);
    const deadline = Date.now() + 60_000;
    const N = 3000;
    const frames = Array.from({ length: N }, (_, i) => makeFrame(i, 0));
    send(b, 0, frames, 0, N, deadline); // port 1 does not poll meanwhile: its 256 RX buffers fill up
    await until(() => b.devs[1]!.wireStats().generated === N, 20_000, "every frame offered to device 1", { every: 2 });
    const d1 = b.devs[1]!.stats();
    const w1 = b.devs[1]!.wireStats();
    expect(b.devs[0]!.wireStats().received).toBe(N);
    expect(w1.generated).toBe(N);
    expect(w1.generated).toBe(d1.rxPackets + w1.missed);
    expect(w1.missed).toBe(d1.rxMissed + w1.overflow + d1.rxOversize + d1.rxNoFit + d1.rxDropped);
    expect(d1.rxPackets).toBeGreaterThan(0);
    expect(d1.rxPackets).toBeLessThanOrEqual(256);
    expect(w1.missed).toBeGreaterThan(N - 257);
    // What port 1 got is the first frames, in order (the loss is at the end, when the ring was full).
    let got = 0;
    while (got < d1.rxPackets) {
      if (Date.now() > deadline) throw new Error("rx stuck");
      got = receive(b, 1, frames, got);
    }
    expect(got).toBe(d1.rxPackets);
    expect(b.ports[1]!.stats().ipackets).toBe(d1.rxPackets);
  });

  it("start() fails when a loop's peer does not point back", async () => {
    const mem = Memory.create(16 << 20);
    const vhost = new Vhost(mem, {});
    vhost.addDevice({ name: "virtio0", wire: spec("virtio0,wire=loop,peer=1") });
    vhost.addDevice({ name: "virtio1", wire: spec("virtio1,wire=sink") });
    await expect(vhost.start()).rejects.toThrow("virtio0: wire=loop,peer=1: virtio1 is not a loop wire with peer=0");
    await vhost.stop();
  });
});

// wire=udp across threads: two devices whose udp wires point at each other on
// 127.0.0.1, so each frame crosses the kernel in a datagram (with a VXLAN
// header). The sockets live on the device thread (DeviceLoop.runAsync), the
// real driver runs on this thread. A third device on a gen wire shares the
// device thread and must keep delivering. Its threads load the compiled dist/.
import { afterEach, describe, expect, it } from "vitest";
import * as dgram from "node:dgram";
import { Backoff, Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { Vhost } from "@tpdk/vhost";
import { VirtioPort, bindThreadMemory, rxBurst, txBurst } from "@tpdk/virtio-pmd";
import { startPorts } from "@tpdk/testing/e2e";
import { freeUdpPort } from "@tpdk/testing/e2e";
import { wireSpec as spec } from "@tpdk/testing/vhost";


let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (cleanup) await cleanup();
  cleanup = null;
});

describe("wire=udp across threads, with the real driver", () => {
  it("frames cross 127.0.0.1 in VXLAN datagrams both ways, intact and in order; a gen device on the same thread keeps going", async () => {
    const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
    const mem = Memory.create(96 << 20);
    const vhost = new Vhost(mem, {});
    const devs = [
      vhost.addDevice({ name: "virtio0", wire: spec(`virtio0,wire=udp,local=127.0.0.1:${pa},remote=127.0.0.1:${pb},vxlan=7`) }),
      vhost.addDevice({ name: "virtio1", wire: spec(`virtio1,wire=udp,local=127.0.0.1:${pb},remote=127.0.0.1:${pa},vxlan=7`) }),
      vhost.addDevice({ name: "virtio2", wire: spec("virtio2,wire=gen,rate=20k") }),
    ];
    await vhost.start();
    const ports: VirtioPort[] = [];
    cleanup = async () => {
      for (const p of ports) p.close();
      await vhost.stop();
    };
    const pool = Mempool.create(mem, "udp", { n: 8192, cacheSize: 0 });
    startPorts(mem, devs, pool, 512, ports);
    bindThreadMemory(mem);
    const mbufs = new Mbufs(mem);
    const backoff = new Backoff(new Int32Array(new SharedArrayBuffer(4)), 0, false, { spinPasses: 16, maxWaitMs: 0.5 });
    const arr = new Uint32Array(32);
    const N = 2000;
    const deadline = Date.now() + 60_000;
    let genFrames = 0;
    const drainGen = (): void => {
      const n = rxBurst(2, 0, arr, 32);
      genFrames += n;
      mbufs.freeBulk(arr, n);
    };
    for (const [from, to] of [[0, 1], [1, 0]] as const) {
      const frames = Array.from({ length: N }, (_, i) => {
        const f = new Uint8Array(60 + ((i * 37 + from) % 1400));
        f.set([2, 0, 0, 0, 0, to, 2, 0, 0, 0, 0, from, 0x88, 0xb5, from, i & 0xff, i >>> 8]);
        for (let k = 17; k < f.length; k++) f[k] = (k + i * 7) & 0xff;
        return f;
      });
      let sent = 0;
      let got = 0;
      while (got < N) {
        if (Date.now() > deadline) throw new Error(`timed out: ${got}/${N} frames from port ${from} arrived on port ${to}`);
        if (sent - got < 64 && sent < N) {
          // Few in flight: loopback UDP drops what a socket buffer cannot hold, like any network.
          const m = pool.alloc();
          mem.u8.set(frames[sent]!, mbufs.append(m, frames[sent]!.length));
          arr[0] = m;
          while (txBurst(from, 0, arr, 1) === 0) backoff.idle();
          sent++;
        }
        const n = rxBurst(to, 0, arr, 32);
        for (let i = 0; i < n; i++) {
          const m = arr[i]!;
          const want = frames[got]!;
          const a = mbufs.dataAddr(m);
          if (mbufs.pktLen(m) !== want.length) throw new Error(`frame ${got}: ${mbufs.pktLen(m)} bytes, want ${want.length}`);
          for (let k = 0; k < want.length; k++) if (mem.u8[a + k] !== want[k]) throw new Error(`frame ${got} differs at byte ${k}`);
          mbufs.free(m);
          got++;
        }
        drainGen();
        if (n === 0) backoff.idle();
        else backoff.reset();
      }
    }
    const w0 = devs[0]!.wireStats();
    const w1 = devs[1]!.wireStats();
    for (const w of [w0, w1]) {
      expect(w).toMatchObject({ kind: "udp", received: N, generated: N, missed: 0, badVxlan: 0, badLength: 0, sendDropped: 0, writeErrors: 0 });
      expect(w.datagramsIn).toBe(N);
    }
    // Every datagram sent was reported sent (completions arrive when the device thread's event loop turns).
    const t0 = Date.now();
    while (devs[0]!.wireStats().datagramsOut < N && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    expect(devs[0]!.wireStats().datagramsOut).toBe(N);
    // The gen device shared the thread: it kept producing meanwhile.
    drainGen();
    expect(genFrames).toBeGreaterThan(0);
    expect(devs[2]!.wireStats().generated).toBeGreaterThan(0);
    for (const p of ports) p.stop();
    await cleanup();
    cleanup = null;
    // The thread closed its sockets: the ports are free again.
    const s = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(pa, "127.0.0.1", () => resolve());
    });
    s.close();
  });

  it("start() fails, naming the vdev and address, when a udp wire cannot bind", async () => {
    const mem = Memory.create(16 << 20);
    const vhost = new Vhost(mem, {});
    vhost.addDevice({ name: "virtio0", wire: spec("virtio0,wire=udp,local=192.0.2.1:4789,remote=192.0.2.2:4789") });
    await expect(vhost.start()).rejects.toThrow("virtio0: wire=udp cannot bind local=192.0.2.1:4789: EADDRNOTAVAIL");
    await vhost.stop();
  });
});

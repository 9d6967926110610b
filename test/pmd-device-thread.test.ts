// The driver against the real device thread, beyond plain traffic: RX
// interrupt mode (sleep in Atomics.wait until the device signals), a dead
// device thread noticed through the trap timeout, restart after stop.
// Its threads load the compiled dist/ (the test command builds first).
import { afterEach, describe, expect, it } from "vitest";
import { Memory, TpdkError } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { Vhost } from "@tpdk/vhost";
import { readTestWire, releaseTestWire, testWireSpec } from "@tpdk/testing/vhost";
import { RxQueue, TxQueue, VirtioPort, type VirtioPmdOptions } from "@tpdk/virtio-pmd";

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (cleanup) await cleanup();
  cleanup = null;
});

function frames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const f = new Uint8Array(60 + (i % 50));
    f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5, i & 0xff]);
    return f;
  });
}

async function setup(options: VirtioPmdOptions, list: Uint8Array[]) {
  const mem = Memory.create(64 << 20);
  const wire = testWireSpec(mem, "dt.wire", list, { gated: true, recordBytes: 1 << 20 });
  const vhost = new Vhost(mem, {});
  const dev = vhost.addDevice({ name: "virtio0", wire });
  await vhost.start();
  const port = VirtioPort.probe(mem, { portId: 0, transportOffset: dev.transportOffset, options: { queueSize: 256, ...options } });
  const pool = Mempool.create(mem, "dt", { n: 2048, cacheSize: 0, debug: true });
  port.configure(1, 1);
  port.rxQueueSetup(0, { pool });
  port.txQueueSetup(0);
  port.start();
  cleanup = async () => {
    try {
      port.close();
    } catch {
      // dead-device tests close a port whose device is gone
    }
    await vhost.stop().catch(() => {});
  };
  return { mem, wire, vhost, dev, port, pool, rxq: RxQueue.attach(mem, 0, 0), txq: TxQueue.attach(mem, 0, 0), mbufs: new Mbufs(mem) };
}

describe("virtio-pmd with the device thread", () => {
  it.each([true, false])("RX interrupt mode (event_idx=%s): the lcore sleeps until the device signals", async (eventIdx) => {
    const list = frames(200);
    const r = await setup({ eventIdx }, list);
    r.rxq.enableInterrupt();
    const arr = new Uint32Array(32);
    let got = 0;
    let sleeps = 0;
    let released = 0;
    const deadline = Date.now() + 30_000;
    while (got < list.length && Date.now() < deadline) {
      if (released === got && released < list.length) {
        releaseTestWire(r.mem, r.wire.recordOffset, 20);
        released += 20;
      }
      const n = r.rxq.rxBurst(arr, 32);
      for (let i = 0; i < n; i++) {
        expect(r.mbufs.pktLen(arr[i]!)).toBe(list[got]!.length);
        expect(r.mem.u8[r.mbufs.dataAddr(arr[i]!) + 14]).toBe(got & 0xff);
        r.mbufs.free(arr[i]!);
        got++;
      }
      if (n === 0) {
        sleeps++;
        r.rxq.waitInterrupt(50);
      }
    }
    expect(got).toBe(list.length);
    const x = Object.fromEntries(r.port.xstats().map((s) => [s.name, s.value]));
    expect(x["rx_q0_interrupts"]).toBeGreaterThan(0);
    expect(x["rx_q0_interrupts"]).toBeLessThanOrEqual(sleeps);
    r.rxq.disableInterrupt();
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });

  it("a dead device thread is noticed by the trap timeout: link down, no more traps; stop still returns every mbuf", async () => {
    const r = await setup({ trapTimeoutMs: 100 }, []);
    const m = r.pool.alloc();
    r.mbufs.setDataLen(m, 60);
    r.mbufs.setPktLen(m, 60);
    expect(r.txq.txBurst(Uint32Array.of(m), 1)).toBe(1);
    await r.vhost.kill();
    // The trap times out: that is a link down (and a dead device), not an exception.
    expect(r.port.linkStatus().up).toBe(false);
    expect(r.port.deviceFault).toMatch(/register access timed out/);
    expect(r.port.xstats().find((x) => x.name === "device_not_answering")?.value).toBe(1);
    // Known dead: stop() makes no trap (it would wait another 100 ms and throw) and frees the ring mbufs.
    r.port.stop(20);
    expect(r.pool.available()).toBe(r.pool.size);
    let err: unknown;
    try {
      r.port.start();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TpdkError);
    expect((err as TpdkError).code).toBe("ENODEV");
  });

  it("stop, start again, traffic resumes on the same lcore objects; TX is drained before the reset", async () => {
    const list = frames(40);
    const r = await setup({}, list);
    const arr = new Uint32Array(32);
    for (let cycle = 0; cycle < 3; cycle++) {
      releaseTestWire(r.mem, r.wire.recordOffset, 10);
      let got = 0;
      const deadline = Date.now() + 10_000;
      while (got < 10 && Date.now() < deadline) {
        const n = r.rxq.rxBurst(arr, 32);
        // Loop the frames back out.
        let sent = 0;
        while (sent < n) sent += r.txq.txBurst(arr, n - sent, sent);
        got += n;
        if (n === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
      expect(got).toBe(10);
      r.port.stop();
      expect(readTestWire(r.mem, r.wire.recordOffset).consumed).toBe(10 * (cycle + 1));
      expect(r.pool.available()).toBe(r.pool.size);
      r.port.start();
    }
  });
});

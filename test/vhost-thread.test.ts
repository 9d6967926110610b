// The device on its own thread, driven from this (main) thread as a driver
// would: traps through the mailbox (answered by the device thread), rings
// built by hand, kicks on the doorbell. Its threads load the compiled dist/ (the test
// command builds first). Every wait is bounded; nothing asserts on timing.
import { afterEach, describe, expect, it } from "vitest";
import { Memory, parseDevargs } from "@tpdk/eal";
import * as v from "@tpdk/virtio";
import { THREAD_RUNNING, Vhost, parseWireSpec } from "@tpdk/vhost";
import { Arena, DriverRing, TrapClient, frame, readTestWire, releaseTestWire, testWireSpec } from "@tpdk/testing/vhost";
import { until } from "@tpdk/testing/until";

const W = v.VRING_DESC_F_WRITE;

const running: Vhost[] = [];
afterEach(async () => {
  for (const vh of running.splice(0)) await vh.kill();
});

function setup(opts: { frames?: Uint8Array[]; repeat?: number; failAfter?: number } = {}) {
  const mem = Memory.create(16 << 20);
  const vhost = new Vhost(mem, { maxSleepMs: 1 });
  running.push(vhost);
  const spec = testWireSpec(mem, "t.wire", opts.frames ?? [], {
    repeat: opts.repeat ?? 1,
    gated: true,
    ...(opts.failAfter !== undefined ? { failAfter: opts.failAfter } : {}),
  });
  const dev = vhost.addDevice({ name: "virtio0", wire: spec, maxQueueSize: 256 });
  const rx = new DriverRing(mem, "t.rx", 64);
  const tx = new DriverRing(mem, "t.tx", 64);
  const arena = new Arena(mem, "t.arena", 1 << 20);
  const client = new TrapClient(mem, dev.transportOffset);
  return { mem, vhost, dev, rx, tx, arena, client, spec };
}

describe("vhost device thread", () => {
  it("starts, answers traps, moves frames both ways, drains, and stops", async () => {
    const frames = [frame(60, 1), frame(1000, 2), frame(64, 3)];
    const s = setup({ frames });
    await s.vhost.start();
    expect(Atomics.load(s.mem.i32, (s.vhost.doorbellAddr + 8) >>> 2)).toBe(THREAD_RUNNING);
    expect(s.client.negotiate(s.dev.offered)).toBe(true);
    s.client.setupQueue(0, s.rx);
    s.client.setupQueue(1, s.tx);
    for (let i = 0; i < 8; i++) {
      s.rx.setDesc(i, s.arena.alloc(2048), 2048, W);
      s.rx.add(i);
    }
    s.rx.publish();
    s.client.driverOk();
    expect(s.client.status() & v.STATUS_DRIVER_OK).toBe(v.STATUS_DRIVER_OK);
    // RX: the wire's frames land in the posted buffers.
    releaseTestWire(s.mem, s.spec.recordOffset, frames.length);
    await until(() => s.rx.usedIdx() === 3, 5000, "3 RX buffers used");
    for (let i = 0; i < 3; i++) expect(s.rx.usedElem(i).len).toBe(12 + frames[i]!.length);
    // TX: transmitted frames reach the wire.
    for (let i = 0; i < 5; i++) {
      const a = s.arena.alloc(12 + 60);
      s.mem.u8.set(frame(60, 10 + i), a + 12);
      s.tx.setDesc(i, a, 72);
      s.tx.add(i);
    }
    s.tx.publish();
    s.client.kick(1);
    await until(() => s.tx.usedIdx() === 5, 5000, "5 TX chains used");
    expect(readTestWire(s.mem, s.spec.recordOffset).frames).toEqual([0, 1, 2, 3, 4].map((i) => frame(60, 10 + i)));
    await until(() => s.dev.inputExhausted(), 5000, "the wire's input exhausted");
    const st = s.dev.stats();
    expect([st.rxPackets, st.txPackets, st.rxMissed]).toEqual([3, 5, 0]);
    expect(s.dev.wireStats()).toMatchObject({ generated: 3, received: 5, exhausted: true });
    await s.vhost.stop();
  });

  it("asks for kicks before sleeping, and a kick wakes it", async () => {
    const s = setup();
    await s.vhost.start();
    s.client.negotiate(v.withFeature(s.dev.offered, v.VIRTIO_F_EVENT_IDX, false));
    s.client.setupQueue(0, s.rx);
    s.client.setupQueue(1, s.tx);
    s.client.driverOk();
    // Idle: the thread re-enables notifications (clears NO_NOTIFY) and sleeps.
    await until(() => s.tx.usedFlags() === 0, 5000, "NO_NOTIFY cleared (the thread idle)");
    const hb = (s.dev.transportOffset + v.HDR_HEARTBEAT) >>> 2;
    const h0 = Atomics.load(s.mem.u32, hb);
    await until(() => Atomics.load(s.mem.u32, hb) > h0 + 2, 5000, "3 heartbeats while idle");
    for (let round = 0; round < 20; round++) {
      const a = s.arena.alloc(72);
      s.tx.setDesc(round % 64, a, 72);
      s.tx.add(round % 64);
      s.tx.publish();
      // A driver kicks only when the device asked for it (§2.7.10).
      if ((s.tx.usedFlags() & v.VRING_USED_F_NO_NOTIFY) === 0) s.client.kick(1);
      await until(() => s.tx.usedIdx() === round + 1, 5000, `TX chain ${round + 1} used`);
    }
    expect(s.dev.stats().kicks).toBeGreaterThan(0);
    await s.vhost.stop();
  });

  it("kill() stops the heartbeat, and traps then go unanswered", async () => {
    const s = setup();
    await s.vhost.start();
    const hb = (s.dev.transportOffset + v.HDR_HEARTBEAT) >>> 2;
    const h0 = Atomics.load(s.mem.u32, hb);
    await until(() => Atomics.load(s.mem.u32, hb) > h0, 5000, "a heartbeat");
    await s.vhost.kill();
    const h1 = Atomics.load(s.mem.u32, hb);
    await new Promise((r) => setTimeout(r, 20));
    expect(Atomics.load(s.mem.u32, hb)).toBe(h1);
    const dead = new TrapClient(s.mem, s.dev.transportOffset, undefined, 50);
    expect(() => dead.status()).toThrow(/not answered/);
  });

  it("rejects start() when the thread cannot build a device", async () => {
    const mem = Memory.create(4 << 20);
    const vhost = new Vhost(mem);
    running.push(vhost);
    vhost.addDevice({ name: "bad", wire: testWireSpec(mem, "bad.rec", [], { repeat: 0 }) });
    await expect(vhost.start()).rejects.toThrow(/device thread failed/);
    await expect(vhost.failed).rejects.toThrow();
  });

  it("an exception in the data path puts that device in DEVICE_NEEDS_RESET and rejects `failed`", async () => {
    const s = setup({ failAfter: 1 });
    await s.vhost.start();
    s.client.negotiate(s.dev.offered);
    s.client.setupQueue(0, s.rx);
    s.client.setupQueue(1, s.tx);
    s.client.driverOk();
    for (let i = 0; i < 2; i++) {
      s.tx.setDesc(i, s.arena.alloc(72), 72);
      s.tx.add(i);
    }
    s.tx.publish();
    s.client.kick(1);
    const stderr = process.stderr.write;
    process.stderr.write = () => true; // the thread logs the error once
    try {
      await expect(s.vhost.failed).rejects.toThrow(/injected consume failure/);
    } finally {
      process.stderr.write = stderr;
    }
    expect(s.client.status() & v.STATUS_DEVICE_NEEDS_RESET).toBe(v.STATUS_DEVICE_NEEDS_RESET);
    expect(s.dev.stats().errInternal).toBe(1);
    // The thread still serves traps: the driver can reset the device.
    s.client.setStatus(0);
    expect(s.client.status()).toBe(0);
    await s.vhost.stop();
  });

  it("drives a real wire: gen count=200 into a driver that reposts its buffers, until drained", async () => {
    const mem = Memory.create(16 << 20);
    const vhost = new Vhost(mem);
    running.push(vhost);
    const d = parseDevargs("virtio0,wire=gen,count=200,size=128");
    const dev = vhost.addDevice({ name: "virtio0", wire: parseWireSpec(d.name, d.args) });
    const rx = new DriverRing(mem, "g.rx", 32);
    const tx = new DriverRing(mem, "g.tx", 32);
    const arena = new Arena(mem, "g.arena", 1 << 20);
    const client = new TrapClient(mem, dev.transportOffset);
    await vhost.start();
    client.negotiate(dev.offered);
    client.setupQueue(0, rx);
    client.setupQueue(1, tx);
    for (let i = 0; i < 32; i++) {
      rx.setDesc(i, arena.alloc(2048), 2048, W);
      rx.add(i);
    }
    rx.publish();
    client.driverOk();
    let seen = 0;
    await until(() => {
      // The flag first: the device raises it (Atomics.store, in its tick) after it published the
      // last batch, so once it is seen here, the used.idx read below includes that batch.
      const exhausted = dev.inputExhausted();
      const u = rx.usedIdx();
      while (seen !== u) {
        rx.add(rx.usedElem(seen).id); // repost the buffer
        seen = (seen + 1) & 0xffff;
      }
      rx.publish();
      return exhausted;
    }, 5000, "the wire's 200 frames generated (buffers reposted)");
    const st = dev.stats();
    const ws = dev.wireStats();
    expect(ws.generated).toBe(200);
    expect(st.rxPackets + st.rxMissed).toBe(200);
    expect(st.rxPackets).toBe(seen);
    expect(st.rxBytes).toBe(st.rxPackets * 124); // size=128 includes the 4-byte FCS
    await vhost.stop();
  });
});

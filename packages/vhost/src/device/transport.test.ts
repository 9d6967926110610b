import { Memory } from "@tpdk/eal";
import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { deviceFixture, frame } from "@tpdk/testing/vhost";
import { TrapClient } from "@tpdk/testing/vhost";
import { testWireSpec } from "@tpdk/testing/vhost";
import { Vhost } from "../vhost.js";

const OFFERED = [
  v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MAC, v.VIRTIO_NET_F_STATUS, v.VIRTIO_NET_F_MTU, v.VIRTIO_NET_F_MRG_RXBUF,
  v.VIRTIO_F_INDIRECT_DESC, v.VIRTIO_F_EVENT_IDX, v.VIRTIO_F_IN_ORDER, v.VIRTIO_F_ANY_LAYOUT, v.VIRTIO_NET_F_CTRL_VQ,
  v.VIRTIO_NET_F_MQ, v.VIRTIO_NET_F_CTRL_MAC_ADDR,
];
const ACK_DRV = v.STATUS_ACKNOWLEDGE | v.STATUS_DRIVER;

describe("transport header and registers (§4.1.4)", () => {
  it("writes the header at create, before any thread runs", () => {
    const mem = Memory.create(4 << 20);
    const vhost = new Vhost(mem);
    const dev = vhost.addDevice({ name: "virtio0", wire: testWireSpec(mem, "w", []), queuePairs: 3 });
    const t = dev.transportOffset;
    expect(mem.u32[(t + v.HDR_MAGIC) >>> 2]).toBe(v.TRANSPORT_MAGIC);
    expect(mem.u32[(t + v.HDR_VERSION) >>> 2]).toBe(v.TRANSPORT_VERSION);
    expect(mem.u32[(t + v.HDR_DEVICE_ID) >>> 2]).toBe(v.VIRTIO_ID_NET);
    expect(mem.u32[(t + v.HDR_MAX_QUEUES) >>> 2]).toBe(7); // 3 pairs + the control queue
    expect(mem.u32[(t + v.HDR_DOORBELL_ADDR) >>> 2]).toBe(vhost.doorbellAddr);
    expect(mem.u32[(t + v.HDR_NOTIFY_OFF_MULTIPLIER) >>> 2]).toBe(v.NOTIFY_OFF_MULTIPLIER);
    expect(mem.lookup("vhost.virtio0")?.offset).toBe(t);
  });

  it("offers every implemented feature, and lets each be switched off", () => {
    const f = deviceFixture({ noStart: true });
    expect(f.client.deviceFeatures()).toEqual(v.features(...OFFERED));
    const g = deviceFixture({ noStart: true, device: { offer: { MRG_RXBUF: false, EVENT_IDX: false } } });
    const got = g.client.deviceFeatures();
    expect(v.hasFeature(got, v.VIRTIO_NET_F_MRG_RXBUF)).toBe(false);
    expect(v.hasFeature(got, v.VIRTIO_F_EVENT_IDX)).toBe(false);
    expect(v.hasFeature(got, v.VIRTIO_F_IN_ORDER)).toBe(true);
    expect(() => deviceFixture({ noStart: true, device: { offer: { CSUM: true } as never } })).toThrow(/CSUM/);
    // RING_PACKED only when asked for, and then with the control queue (packed too), MQ and CTRL_MAC_ADDR.
    expect(v.hasFeature(got, v.VIRTIO_F_RING_PACKED)).toBe(false);
    const p = deviceFixture({ noStart: true, device: { queuePairs: 2, offer: { RING_PACKED: true } } });
    const pf = p.client.deviceFeatures();
    const bits = [v.VIRTIO_F_RING_PACKED, v.VIRTIO_NET_F_CTRL_VQ, v.VIRTIO_NET_F_MQ, v.VIRTIO_NET_F_CTRL_MAC_ADDR];
    expect(bits.map((b) => v.hasFeature(pf, b))).toEqual([true, true, true, true]);
    expect(p.client.readCommon(v.CC_NUM_QUEUES)).toBe(5);
    // §5.1.3.1: MQ requires CTRL_VQ, so the device never offers one without the other.
    expect(() => deviceFixture({ noStart: true, device: { offer: { CTRL_VQ: false } } })).toThrow(/MQ without CTRL_VQ/);
    const h = deviceFixture({ noStart: true, device: { offer: { CTRL_VQ: false, MQ: false } } });
    expect(v.hasFeature(h.client.deviceFeatures(), v.VIRTIO_NET_F_CTRL_VQ)).toBe(false);
    expect(h.client.readCommon(v.CC_NUM_QUEUES)).toBe(2);
    expect(() => deviceFixture({ noStart: true, device: { queuePairs: 2, offer: { CTRL_VQ: false, MQ: false } } })).toThrow(/MQ feature/);
    expect(() => deviceFixture({ noStart: true, device: { queuePairs: 32 } })).toThrow(/queuePairs 32/);
  });

  it("reads num_queues, queue sizes and notify offsets, and the net config", () => {
    const f = deviceFixture({ noStart: true, device: { queuePairs: 2, mac: "52:54:00:ab:cd:ef", mtu: 9000 } });
    const c = f.client;
    expect(c.readCommon(v.CC_NUM_QUEUES)).toBe(5); // 2 pairs + the control queue
    for (let q = 0; q < 5; q++) {
      c.writeCommon(v.CC_QUEUE_SELECT, q);
      expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(q === 4 ? 64 : 256); // the control queue is small
      expect(c.readCommon(v.CC_QUEUE_NOTIFY_OFF)).toBe(q);
      expect(c.readCommon(v.CC_QUEUE_ENABLE)).toBe(0);
    }
    c.writeCommon(v.CC_QUEUE_SELECT, 5);
    expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(0); // no such queue
    const mac = [0, 1, 2, 3, 4, 5].map((i) => c.readDeviceCfg(v.NET_CFG_MAC + i, 1));
    expect(mac).toEqual([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
    expect(c.readDeviceCfg(v.NET_CFG_MAC, 4)).toBe(0xab005452);
    expect(c.readDeviceCfg(v.NET_CFG_STATUS, 2)).toBe(v.VIRTIO_NET_S_LINK_UP);
    expect(c.readDeviceCfg(v.NET_CFG_MAX_VIRTQUEUE_PAIRS, 2)).toBe(2);
    expect(c.readDeviceCfg(v.NET_CFG_MTU, 2)).toBe(9000);
  });

  it("answers bad traps with 0 and counts them, and counts every trap", () => {
    const f = deviceFixture({ noStart: true });
    const c = f.client;
    const mac0 = c.readDeviceCfg(v.NET_CFG_MAC, 1);
    const before = f.dev.stats();
    expect(c.read(v.SPACE_COMMON_CFG, v.CC_DEVICE_STATUS, 4)).toBe(0); // wrong width
    expect(c.read(v.SPACE_COMMON_CFG, 0x3e, 2)).toBe(0); // past the block
    expect(c.read(v.SPACE_DEVICE_CFG, 11, 2)).toBe(0); // misaligned
    expect(c.read(v.SPACE_DEVICE_CFG, 12, 1)).toBe(0); // past the config
    expect(c.read(99, 0, 4)).toBe(0);
    c.write(v.SPACE_COMMON_CFG, v.CC_NUM_QUEUES, 2, 7); // read-only
    c.write(v.SPACE_DEVICE_CFG, v.NET_CFG_MTU, 2, 100); // read-only
    c.write(v.SPACE_DEVICE_CFG, v.NET_CFG_MAC, 1, mac0 ^ 0x10); // read-only too (§5.1.4.2): mac= goes through the device's options
    expect(c.readCommon(v.CC_NUM_QUEUES)).toBe(3);
    expect(c.readDeviceCfg(v.NET_CFG_MTU, 2)).toBe(1500);
    expect(c.readDeviceCfg(v.NET_CFG_MAC, 1)).toBe(mac0);
    const after = f.dev.stats();
    expect(after.badTraps - before.badTraps).toBe(8);
    expect(after.traps - before.traps).toBe(11);
  });

  it("reading the ISR clears it", () => {
    const f = deviceFixture({ frames: [frame(60)] });
    const rx = f.rings[0]!;
    rx.setDesc(0, f.arena.alloc(2048), 2048, v.VRING_DESC_F_WRITE);
    rx.add(0);
    rx.publish();
    f.release(1);
    f.pass(2);
    expect(f.client.readIsr()).toBe(v.ISR_QUEUE);
    expect(f.client.readIsr()).toBe(0);
  });
});

describe("device status and feature negotiation (§2.1, §3.1)", () => {
  it("accepts a subset of the offer and locks features after FEATURES_OK", () => {
    const f = deviceFixture({ noStart: true });
    const c = f.client;
    const want = v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MAC);
    expect(c.negotiate(want)).toBe(true);
    expect(c.status()).toBe(ACK_DRV | v.STATUS_FEATURES_OK);
    c.writeCommon(v.CC_DRIVER_FEATURE_SELECT, 0);
    c.writeCommon(v.CC_DRIVER_FEATURE, 0xffffffff);
    expect(c.readCommon(v.CC_DRIVER_FEATURE)).toBe(want.lo);
    expect(f.dev.stats().errLateWrite).toBe(1);
  });

  it("refuses FEATURES_OK for bits it did not offer; the driver may try again", () => {
    for (const bit of [v.VIRTIO_F_RING_PACKED, v.VIRTIO_NET_F_CTRL_RX, v.VIRTIO_NET_F_CSUM, v.VIRTIO_F_ACCESS_PLATFORM, 50]) {
      const f = deviceFixture({ noStart: true });
      expect(f.client.negotiate(v.features(v.VIRTIO_F_VERSION_1, bit))).toBe(false);
      expect(f.client.status()).toBe(ACK_DRV);
      expect(f.dev.stats().errFeatures).toBe(1);
      // Not locked: a corrected set goes through without a reset.
      f.client.writeDriverFeatures(v.features(v.VIRTIO_F_VERSION_1));
      f.client.setStatus(ACK_DRV | v.STATUS_FEATURES_OK);
      expect(f.client.status()).toBe(ACK_DRV | v.STATUS_FEATURES_OK);
    }
    const g = deviceFixture({ noStart: true, device: { offer: { MRG_RXBUF: false } } });
    expect(g.client.negotiate(v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MRG_RXBUF))).toBe(false);
  });

  it("refuses FEATURES_OK for MQ without CTRL_VQ (§5.1.3.1), accepts them together or CTRL_VQ alone", () => {
    const f = deviceFixture({ noStart: true, device: { queuePairs: 2 } });
    expect(f.client.negotiate(v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MQ))).toBe(false);
    expect(f.dev.stats().errFeatures).toBe(1);
    expect(f.client.negotiate(v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MQ, v.VIRTIO_NET_F_CTRL_VQ))).toBe(true);
    expect(f.client.negotiate(v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_CTRL_VQ))).toBe(true);
    expect(f.dev.stats().errFeatures).toBe(1);
  });

  it("numbers the control queue after the pairs the negotiation leaves (§5.1.2)", () => {
    const select = (f: ReturnType<typeof deviceFixture>, q: number): number => {
      f.client.writeCommon(v.CC_QUEUE_SELECT, q);
      return f.client.readCommon(v.CC_QUEUE_SIZE);
    };
    // With MQ: pairs 0..2, control queue 6.
    const a = deviceFixture({ noStart: true, device: { queuePairs: 3 } });
    expect(a.client.negotiate(a.dev.offered)).toBe(true);
    expect([0, 2, 5, 6, 7].map((q) => select(a, q))).toEqual([256, 256, 256, 64, 0]);
    a.client.writeCommon(v.CC_QUEUE_SELECT, 6);
    expect(a.client.readCommon(v.CC_QUEUE_NOTIFY_OFF)).toBe(6);
    // Without MQ only pair 0 exists and the control queue is 2.
    const b = deviceFixture({ noStart: true, device: { queuePairs: 3 } });
    expect(b.client.negotiate(v.withFeature(b.dev.offered, v.VIRTIO_NET_F_MQ, false))).toBe(true);
    expect([0, 1, 2, 3, 6].map((q) => select(b, q))).toEqual([256, 256, 64, 0, 0]);
    b.client.writeCommon(v.CC_QUEUE_SELECT, 2);
    expect(b.client.readCommon(v.CC_QUEUE_NOTIFY_OFF)).toBe(2);
    // Without CTRL_VQ there is no control queue at all.
    const c = deviceFixture({ noStart: true, device: { queuePairs: 3 } });
    expect(c.client.negotiate(v.features(v.VIRTIO_F_VERSION_1))).toBe(true);
    expect([0, 1, 2].map((q) => select(c, q))).toEqual([256, 256, 0]);
  });

  it("refuses DRIVER_OK before FEATURES_OK and never lets the driver clear bits", () => {
    const f = deviceFixture({ noStart: true });
    const c = f.client;
    c.setStatus(0);
    c.setStatus(v.STATUS_ACKNOWLEDGE);
    c.setStatus(ACK_DRV | v.STATUS_DRIVER_OK);
    expect(c.status()).toBe(ACK_DRV);
    c.setStatus(v.STATUS_ACKNOWLEDGE);
    expect(c.status()).toBe(ACK_DRV);
    c.setStatus(ACK_DRV | v.STATUS_DEVICE_NEEDS_RESET);
    expect(c.status()).toBe(ACK_DRV);
    expect(f.dev.stats().errStatus).toBe(2);
  });

  it("reset (status 0) disables queues, zeroes their registers and clears driver features", () => {
    const f = deviceFixture({ frames: [] });
    const c = f.client;
    const t = f.dev.transportOffset;
    Atomics.add(f.mem.u32, (t + v.notifyWordOffset(1)) >>> 2, 3); // kicks survive a reset
    c.writeCommon(v.CC_QUEUE_SELECT, 1);
    expect(c.readCommon(v.CC_QUEUE_ENABLE)).toBe(1);
    c.setStatus(0);
    expect(c.status()).toBe(0);
    c.writeCommon(v.CC_QUEUE_SELECT, 1);
    expect(c.readCommon(v.CC_QUEUE_ENABLE)).toBe(0);
    expect(c.readCommon(v.CC_QUEUE_DESC_LO)).toBe(0);
    expect(c.readCommon(v.CC_QUEUE_DEVICE_LO)).toBe(0);
    expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(256);
    c.writeCommon(v.CC_DRIVER_FEATURE_SELECT, 1);
    expect(c.readCommon(v.CC_DRIVER_FEATURE)).toBe(0);
    expect(f.dev.stats().resets).toBe(2); // the fixture's own reset plus this one
    expect(f.mem.u32[(t + v.notifyWordOffset(1)) >>> 2]).toBe(3);
    // And the device comes back after a fresh initialisation.
    expect(c.negotiate(f.dev.offered)).toBe(true);
  });

  it("lets the driver lower queue_size to a power of two, only before enable and DRIVER_OK", () => {
    const f = deviceFixture({ noStart: true });
    const c = f.client;
    c.writeCommon(v.CC_QUEUE_SELECT, 0);
    c.writeCommon(v.CC_QUEUE_SIZE, 100);
    expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(256);
    c.writeCommon(v.CC_QUEUE_SIZE, 512);
    expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(256);
    c.writeCommon(v.CC_QUEUE_SIZE, 8);
    expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(8);
    expect(f.dev.stats().errQueueSetup).toBe(2);
    c.setupQueue(0, f.rings[0]!);
    c.writeCommon(v.CC_QUEUE_SIZE, 4); // enabled: locked
    expect(c.readCommon(v.CC_QUEUE_SIZE)).toBe(8);
    c.setupQueue(1, f.rings[1]!);
    c.driverOk();
    c.writeCommon(v.CC_QUEUE_SELECT, 1);
    c.writeCommon(v.CC_QUEUE_DESC_LO, 64); // after DRIVER_OK: locked
    expect(c.readCommon(v.CC_QUEUE_DESC_LO)).toBe(f.rings[1]!.desc);
    c.writeCommon(v.CC_QUEUE_ENABLE, 0); // drivers never disable a queue
    expect(c.readCommon(v.CC_QUEUE_ENABLE)).toBe(1);
    expect(f.dev.stats().errLateWrite).toBe(3);
  });

  it("refuses to enable a queue with addresses outside memory, misaligned or with high halves, and needs a reset", () => {
    const cases: Array<[number, number]> = [
      [v.CC_QUEUE_DESC_LO, 8], // desc table misaligned (16)
      [v.CC_QUEUE_DRIVER_LO, 1], // avail misaligned (2)
      [v.CC_QUEUE_DEVICE_LO, 2], // used misaligned (4)
      [v.CC_QUEUE_DEVICE_LO, 0xfffff000 - 0], // outside memory (absolute)
      [v.CC_QUEUE_DESC_HI, 1],
      [v.CC_QUEUE_DESC_LO, 0x100], // inside the EAL header
    ];
    for (const [reg, add] of cases) {
      const f = deviceFixture({ noStart: true });
      const c = f.client;
      const r = f.rings[0]!;
      c.writeCommon(v.CC_QUEUE_SELECT, 0);
      c.writeCommon(v.CC_QUEUE_SIZE, r.size);
      c.writeCommon(v.CC_QUEUE_DESC_LO, r.desc);
      c.writeCommon(v.CC_QUEUE_DRIVER_LO, r.avail);
      c.writeCommon(v.CC_QUEUE_DEVICE_LO, r.used);
      const absolute = reg === v.CC_QUEUE_DESC_HI || add === 0x100 || add === 0xfffff000;
      const base = absolute ? 0 : c.readCommon(reg);
      c.writeCommon(reg, (base + add) >>> 0);
      c.writeCommon(v.CC_QUEUE_ENABLE, 1);
      expect(c.readCommon(v.CC_QUEUE_ENABLE), `reg ${reg} +${add}`).toBe(0);
      expect(c.status() & v.STATUS_DEVICE_NEEDS_RESET).toBe(v.STATUS_DEVICE_NEEDS_RESET);
      expect(f.dev.stats().errQueueSetup).toBe(1);
      c.setStatus(0);
      expect(c.status()).toBe(0);
    }
  });

  it("processes nothing before DRIVER_OK, and stops on FAILED", () => {
    const f = deviceFixture({ noStart: true, frames: [frame(60)], repeat: 0, gated: false });
    const c = f.client;
    const [rx, tx] = [f.rings[0]!, f.rings[1]!];
    c.negotiate(f.dev.offered);
    c.setupQueue(0, rx);
    c.setupQueue(1, tx);
    const buf = f.arena.alloc(2048);
    rx.setDesc(0, buf, 2048, v.VRING_DESC_F_WRITE);
    rx.add(0);
    rx.publish();
    tx.setDesc(0, f.arena.alloc(100), 12 + 60);
    tx.add(0);
    tx.publish();
    f.pass(5);
    expect(rx.usedIdx()).toBe(0);
    expect(tx.usedIdx()).toBe(0);
    expect(f.wire().produced).toBe(0); // the wire is not even asked before DRIVER_OK
    c.driverOk();
    f.pass(1);
    expect(rx.usedIdx()).toBe(1);
    expect(tx.usedIdx()).toBe(1);
    c.setStatus(c.status() | v.STATUS_FAILED);
    rx.setDesc(1, buf, 2048, v.VRING_DESC_F_WRITE);
    rx.add(1);
    rx.publish();
    tx.add(0);
    tx.publish();
    f.pass(5);
    expect(rx.usedIdx()).toBe(1);
    expect(tx.usedIdx()).toBe(1);
  });

  it("changes config_generation and the status field when the link changes, and notifies", () => {
    const f = deviceFixture({});
    const c = f.client;
    const gen = c.readCommon(v.CC_CONFIG_GENERATION);
    c.readIsr();
    const intr0 = Atomics.load(f.mem.i32, (f.dev.transportOffset + v.interruptWordOffset(0)) >>> 2);
    f.dev.setLinkUp(false);
    const start = performance.now();
    while (c.readDeviceCfg(v.NET_CFG_STATUS, 2) !== 0 && performance.now() - start < 1000) f.pass();
    expect(c.readDeviceCfg(v.NET_CFG_STATUS, 2)).toBe(0);
    expect(c.readCommon(v.CC_CONFIG_GENERATION)).toBe((gen + 1) & 0xff);
    expect(c.readIsr()).toBe(v.ISR_CONFIG);
    expect(Atomics.load(f.mem.i32, (f.dev.transportOffset + v.interruptWordOffset(0)) >>> 2)).toBe(intr0 + 1);
  });

  it("bumps the heartbeat while passes run", () => {
    const f = deviceFixture({ noStart: true });
    const hb = (f.dev.transportOffset + v.HDR_HEARTBEAT) >>> 2;
    const h0 = Atomics.load(f.mem.u32, hb);
    // The loop reads the clock every few thousand passes (no wire here needs it every pass): give it time.
    const start = performance.now();
    while (Atomics.load(f.mem.u32, hb) <= h0 + 1 && performance.now() - start < 1000) f.pass();
    expect(Atomics.load(f.mem.u32, hb)).toBeGreaterThan(h0 + 1);
  });

  it("folds kicks into TRANSPORT_STAT_KICKS", () => {
    const f = deviceFixture({});
    f.client.kick(1);
    f.client.kick(1);
    f.client.kick(0);
    const start = performance.now();
    while (f.dev.stats().kicks < 3 && performance.now() - start < 1000) f.pass();
    expect(f.dev.stats().kicks).toBe(3);
  });

  it("serves a trap from a second device on the same loop", () => {
    const mem = Memory.create(4 << 20);
    const vhost = new Vhost(mem);
    const a = vhost.addDevice({ name: "a", wire: testWireSpec(mem, "wa", []) });
    const b = vhost.addDevice({ name: "b", wire: testWireSpec(mem, "wb", []), mtu: 1234 });
    const loop = vhost.createLoop();
    const cb = new TrapClient(mem, b.transportOffset, () => loop.pass());
    expect(cb.readDeviceCfg(v.NET_CFG_MTU, 2)).toBe(1234);
    expect(a.stats().traps).toBe(0);
    expect(b.stats().traps).toBe(1);
  });
});

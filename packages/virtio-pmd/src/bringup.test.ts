import { Memory, TpdkError, UsageError, parseDevargs, assertNoUnknownKeys } from "@tpdk/eal";
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_ERR,
  VIRTIO_NET_OK,
  features,
  hasFeature,
  withFeature,
  NET_CFG_MAC,
} from "@tpdk/virtio";
import { Mempool } from "@tpdk/mbuf";
import { describe, expect, it } from "vitest";
import { DRIVER_FEATURES, negotiateFeatures } from "./negotiate.js";
import { parseDriverArgs } from "./options.js";
import { VirtioPort } from "./port.js";
import { formatMac } from "./mac.js";
import { FakeNetDevice, type FakeDeviceOptions } from "@tpdk/testing/virtio-pmd";
import { ALL_FEATURES, rig } from "@tpdk/testing/virtio-pmd";
import { InProcessTransport, SharedMemoryTransport } from "./transport.js";

function probe(dev: Partial<FakeDeviceOptions>, options = {}) {
  const mem = Memory.create(8 << 20);
  const d = new FakeNetDevice(mem, { offered: ALL_FEATURES, ...dev });
  const t = new InProcessTransport(mem, d.region, d, "virtio0");
  return { mem, dev: d, t, probe: () => VirtioPort.probe(mem, { portId: 0, transport: t, options }) };
}

function expectError(fn: () => unknown, code: string, re: RegExp): TpdkError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TpdkError);
    expect((e as TpdkError).code).toBe(code);
    expect((e as Error).message).toMatch(re);
    return e as TpdkError;
  }
  throw new Error("expected an error");
}

describe("feature negotiation", () => {
  it("takes what the driver supports and the device offers, nothing else", () => {
    const offered = withFeature(ALL_FEATURES, VIRTIO_NET_F_CSUM, true);
    const f = negotiateFeatures("virtio0", offered);
    expect(hasFeature(f, VIRTIO_NET_F_CSUM)).toBe(false); // offered, not supported
    for (const b of [VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_IN_ORDER, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC]) {
      expect(hasFeature(f, b)).toBe(true);
    }
    const small = negotiateFeatures("virtio0", features(VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC));
    expect(small).toEqual(features(VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC));
    expect(hasFeature(DRIVER_FEATURES, VIRTIO_NET_F_CSUM)).toBe(false);
  });

  it("key=0 removes a feature, key=1 requires it and names it when missing", () => {
    const f = negotiateFeatures("virtio0", ALL_FEATURES, { mrgRxbuf: false, inOrder: false, eventIdx: false, indirect: false });
    for (const b of [VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_IN_ORDER, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC]) expect(hasFeature(f, b)).toBe(false);
    expect(hasFeature(f, VIRTIO_F_VERSION_1)).toBe(true);
    const lacking = withFeature(ALL_FEATURES, VIRTIO_F_IN_ORDER, false);
    expectError(() => negotiateFeatures("virtio0", lacking, { inOrder: true }), "EFEATURES", /virtio0: in_order=1 .*IN_ORDER/);
    expect(hasFeature(negotiateFeatures("virtio0", ALL_FEATURES, { inOrder: true }), VIRTIO_F_IN_ORDER)).toBe(true);
    expectError(
      () => negotiateFeatures("virtio0", withFeature(ALL_FEATURES, VIRTIO_F_INDIRECT_DESC, false), { txMode: "indirect" }),
      "EFEATURES",
      /tx_mode=indirect/,
    );
  });

  it("probe writes the negotiated set and ends in ACKNOWLEDGE|DRIVER|FEATURES_OK", () => {
    const p = probe({});
    const port = p.probe();
    expect(p.dev.driverFeatures).toEqual(port.features());
    expect(p.dev.status).toBe(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    expect(p.dev.resets).toBe(1);
    // The order of the status writes is the spec's.
    const statusWrites = p.dev.log.filter((l) => l.startsWith("w 1 20 1")).map((l) => Number(l.split(" ")[4]));
    expect(statusWrites).toEqual([0, 1, 3, 11]);
  });

  it("a whole bring-up and stop access every common-config register at its width (@tpdk/virtio COMMON_CFG_WIDTHS)", () => {
    const r = rig();
    r.port.stop();
    expect(r.dev.log.length).toBeGreaterThan(20);
    expect(r.dev.badWidths).toBe(0);
  });

  it("a per-port override of 1 for a feature the device lacks fails probe with FAILED set", () => {
    const p = probe({ offered: withFeature(ALL_FEATURES, VIRTIO_NET_F_MRG_RXBUF, false) }, { mrgRxbuf: true });
    expectError(p.probe, "EFEATURES", /mrg_rxbuf=1 .*MRG_RXBUF/);
    expect(p.dev.status & STATUS_FAILED).toBe(STATUS_FAILED);
  });

  it("a device refusing FEATURES_OK: FAILED set, error names the step and the features", () => {
    const p = probe({ refuseFeaturesOk: true });
    const e = expectError(p.probe, "EFEATURES", /^virtio0: device refused FEATURES_OK for features \[MTU, MAC, MRG_RXBUF, .*VERSION_1.*\]$/);
    expect(e.message).toContain("MRG_RXBUF");
    expect(p.dev.status & STATUS_FAILED).toBe(STATUS_FAILED);
    expect(p.dev.status & STATUS_FEATURES_OK).toBe(0);
    // The port id stays free: a later probe may try again.
    p.dev.opts.refuseFeaturesOk = false;
    expect(p.probe().portId).toBe(0);
  });

  it("a device that never completes reset fails with ERESET naming the step", () => {
    const p = probe({ stuckReset: true });
    expectError(p.probe, "ERESET", /did not complete reset.*during reset/);
    expect(p.dev.status & STATUS_FAILED).toBe(STATUS_FAILED);
  });
});

describe("device configuration", () => {
  it("retries config reads while config_generation changes", () => {
    const p = probe({ tornConfigReads: 3, mac: [0x52, 0x54, 0, 1, 2, 3], mtu: 1400 });
    const port = p.probe();
    expect(formatMac(port.macAddr())).toBe("52:54:00:01:02:03");
    expect(p.dev.generation).toBeGreaterThan(0);
    expect(port.info().mtu).toBe(1400);
  });

  it("uses the device's MAC when it offers one", () => {
    const port = probe({ mac: [0x52, 0x54, 0, 0xaa, 0xbb, 0xcc] }).probe();
    expect(formatMac(port.macAddr())).toBe("52:54:00:AA:BB:CC");
  });

  it("without mac= and without a device MAC: 02:70:64:6b:00:<port id>, kept in the driver (the config is never written)", () => {
    const p = probe({ offered: withFeature(ALL_FEATURES, VIRTIO_NET_F_MAC, false) });
    const port = p.probe();
    expect(formatMac(port.macAddr())).toBe("02:70:64:6B:00:00");
    // §5.1.4.2: the net config is read-only to a 1.x driver (this failed when the driver wrote its MAC there).
    expect(p.dev.configWrites).toBe(0);
    expect(Array.from(p.dev.config.subarray(NET_CFG_MAC, NET_CFG_MAC + 6))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("mac= without CTRL_MAC_ADDR: MAC is not negotiated (§5.1.4.2) and the driver uses mac= as its own; nothing is written", () => {
    const mac = Uint8Array.of(2, 0, 0, 0, 0, 9);
    const p = probe({ mac: [0x52, 0x54, 0, 1, 2, 3] }, { mac });
    const port = p.probe();
    expect(formatMac(port.macAddr())).toBe("02:00:00:00:00:09");
    expect(hasFeature(port.features(), VIRTIO_NET_F_MAC)).toBe(false);
    expect(p.dev.configWrites).toBe(0);
    expect(Array.from(p.dev.config.subarray(0, 6))).toEqual([0x52, 0x54, 0, 1, 2, 3]);
    // Without mac= the device's MAC is negotiated and used.
    expect(hasFeature(probe({ mac: [0x52, 0x54, 0, 1, 2, 3] }).probe().features(), VIRTIO_NET_F_MAC)).toBe(true);
  });

  it("mac= with CTRL_VQ + CTRL_MAC_ADDR: VIRTIO_NET_CTRL_MAC_ADDR_SET after DRIVER_OK at every start; the config is never written", () => {
    const mac = [2, 0, 0, 0, 0, 9];
    const offered = withFeature(withFeature(ALL_FEATURES, VIRTIO_NET_F_CTRL_VQ, true), VIRTIO_NET_F_CTRL_MAC_ADDR, true);
    const mem = Memory.create(16 << 20);
    const statusAtCommand: number[] = [];
    const d: FakeNetDevice = new FakeNetDevice(mem, {
      offered,
      mac: [0x52, 0x54, 0, 1, 2, 3],
      ctrl: (cls, cmd, data) => {
        statusAtCommand.push(d.status);
        if (cls !== VIRTIO_NET_CTRL_MAC || cmd !== VIRTIO_NET_CTRL_MAC_ADDR_SET || data.length !== 6) return VIRTIO_NET_ERR;
        return VIRTIO_NET_OK;
      },
    });
    const t = new InProcessTransport(mem, d.region, d, "virtio0");
    const port = VirtioPort.probe(mem, { portId: 0, transport: t, options: { queueSize: 64, mac: Uint8Array.from(mac) } });
    const pool = Mempool.create(mem, "p", { n: 256, cacheSize: 0 });
    port.configure(1, 1);
    port.rxQueueSetup(0, { pool });
    port.txQueueSetup(0);
    const info = port.start();
    expect(hasFeature(port.features(), VIRTIO_NET_F_MAC)).toBe(true);
    expect(info.macString).toBe("02:00:00:00:00:09");
    expect(d.ctrlLog).toEqual([{ cls: VIRTIO_NET_CTRL_MAC, cmd: VIRTIO_NET_CTRL_MAC_ADDR_SET, data: mac }]);
    expect(statusAtCommand[0]! & STATUS_DRIVER_OK).toBe(STATUS_DRIVER_OK);
    expect(d.configWrites).toBe(0);
    port.stop();
    port.start();
    expect(d.ctrlLog.length).toBe(2); // the reset forgot it: sent again
    port.stop();
    expect(pool.available()).toBe(pool.size);
  });

  it("a device refusing MAC_ADDR_SET fails start naming the command; every mbuf is back", () => {
    const offered = withFeature(withFeature(ALL_FEATURES, VIRTIO_NET_F_CTRL_VQ, true), VIRTIO_NET_F_CTRL_MAC_ADDR, true);
    const mem = Memory.create(16 << 20);
    const d = new FakeNetDevice(mem, { offered, ctrl: () => VIRTIO_NET_ERR });
    const t = new InProcessTransport(mem, d.region, d, "virtio0");
    const port = VirtioPort.probe(mem, { portId: 0, transport: t, options: { queueSize: 64, mac: Uint8Array.of(2, 0, 0, 0, 0, 9) } });
    const pool = Mempool.create(mem, "p", { n: 256, cacheSize: 0 });
    port.configure(1, 1);
    port.rxQueueSetup(0, { pool });
    port.txQueueSetup(0);
    expectError(() => port.start(), "ECTRL", /MAC ADDR_SET\(2,0,0,0,0,9\): device answered VIRTIO_NET_ERR \(during MAC_ADDR_SET\)/);
    expect(pool.available()).toBe(pool.size);
  });

  it("a device without VERSION_1 fails probe naming the port (modern-only transport)", () => {
    const p = probe({ offered: withFeature(ALL_FEATURES, VIRTIO_F_VERSION_1, false) });
    expectError(p.probe, "EFEATURES", /^virtio0: the device does not offer VERSION_1; this driver drives modern \(virtio 1\.x\) devices only/);
    expect(p.dev.status & STATUS_FAILED).toBe(STATUS_FAILED);
  });

  it("link status follows the config status field", () => {
    const r = rig({ device: { linkUp: false } });
    expect(r.port.linkStatus().up).toBe(false);
    r.dev.config[6] = 1;
    expect(r.port.linkStatus()).toEqual({ up: true, speed: 10000, duplex: "full" });
    expect(r.info.macString).toBe("52:54:00:12:34:56");
  });

  it("queue sizes come from queue_size, capped at the device maximum; DRIVER_OK is set", () => {
    const r = rig({ pmd: { queueSize: 1024 }, device: { maxQueueSize: 256 } });
    expect(r.info.rxQueueSizes).toEqual([256]);
    expect(r.info.txQueueSizes).toEqual([256]);
    expect(r.dev.status & STATUS_DRIVER_OK).toBe(STATUS_DRIVER_OK);
    expect(r.dev.queues[0]!.enabled && r.dev.queues[1]!.enabled).toBe(true);
    expect(r.dev.queues[0]!.size).toBe(256);
  });

  it("configure rejects more queues than the device has pairs", () => {
    const p = probe({});
    const port = p.probe();
    expectError(() => port.configure(2, 2), "EINVAL", /2 rx queues requested, at most 1: the device does not offer MQ/);
  });
});

describe("parseDriverArgs", () => {
  it("consumes its keys and leaves the wire's", () => {
    const d = parseDevargs("virtio0,wire=gen,mac=02:00:00:00:00:07,queue_size=256,mrg_rxbuf=0,in_order=1,tx_mode=chained");
    const o = parseDriverArgs(d.name, d.args);
    expect(o).toMatchObject({ queueSize: 256, mrgRxbuf: false, inOrder: true, eventIdx: undefined, indirect: undefined, txMode: "chained" });
    expect(formatMac(o.mac!)).toBe("02:00:00:00:00:07");
    expect(() => assertNoUnknownKeys(d.args, d.name)).toThrow(/unknown key 'wire'/);
  });

  it("defaults, and usage errors naming the key and the fix", () => {
    const d = parseDevargs("virtio3");
    const o = parseDriverArgs(d.name, d.args);
    expect(o).toMatchObject({ queueSize: 1024, txMode: "auto" });
    expect(o.mac).toBeUndefined();
    const bad = (s: string, re: RegExp) => {
      const x = parseDevargs(s);
      expect(() => parseDriverArgs(x.name, x.args)).toThrow(UsageError);
      expect(() => parseDriverArgs(x.name, x.args)).toThrow(re);
    };
    bad("virtio0,queue_size=1000", /queue_size=1000 is not a power of two/);
    bad("virtio0,queue_size=4", /queue_size=4 is out of range/);
    bad("virtio0,in_order=2", /in_order=2 must be 0 or 1/);
    bad("virtio0,tx_mode=fast", /tx_mode=fast is not one of auto, chained, push, indirect/);
    bad("virtio0,mac=01:00:00:00:00:01", /multicast/);
    bad("virtio0,mac=zz", /not a MAC address/);
    bad("virtio0,indirect=0,tx_mode=indirect", /tx_mode=indirect needs indirect/);
  });
});

describe("shared-memory transport", () => {
  it("a device that does not answer traps is reported as ETIMEDOUT", () => {
    const mem = Memory.create(4 << 20);
    const d = new FakeNetDevice(mem, { offered: ALL_FEATURES }); // header only: nobody services the mailbox
    const t = new SharedMemoryTransport(mem, d.region, { name: "virtio0", timeoutMs: 30 });
    expectError(() => t.read(1, 0x14, 1), "ETIMEDOUT", /virtio0: device not answering/);
    // Probe through it: the error names the step.
    expectError(
      () => VirtioPort.probe(mem, { portId: 0, transportOffset: d.region, options: { trapTimeoutMs: 30 } }),
      "ETIMEDOUT",
      /device not answering.*during reset/,
    );
  });

  it("rejects a region without a transport header", () => {
    const mem = Memory.create(4 << 20);
    const z = mem.reserve("nothing", 4096);
    expectError(() => new SharedMemoryTransport(mem, z.offset), "ENODEV", /no virtio transport/);
  });

  it("services traps through the mailbox with a device thread", async () => {
    const { Worker } = await import("node:worker_threads");
    const mem = Memory.create(4 << 20);
    const d = new FakeNetDevice(mem, { offered: ALL_FEATURES });
    // A minimal device thread: answers reads with offset*3, records writes' values in TRAP_VALUE+0x20.
    const src = `
      const { workerData } = require("node:worker_threads");
      const i32 = new Int32Array(workerData.sab); const u32 = new Uint32Array(workerData.sab);
      const r = workerData.region >>> 2;
      const S = r + 0x40/4, OP = r + 0x44/4, OFF = r + 0x4c/4, VAL = r + 0x54/4;
      let n = 0;
      while (n < 3) {
        if (Atomics.load(i32, S) === 1) {
          if (u32[OP] === 1) u32[VAL] = u32[OFF] * 3; else u32[r + 0x60/4] = u32[VAL];
          Atomics.store(i32, S, 2); Atomics.notify(i32, S); n++;
        } else Atomics.wait(i32, workerData.doorbell >>> 2, Atomics.load(i32, workerData.doorbell >>> 2), 5);
      }`;
    const w = new Worker(src, { eval: true, workerData: { sab: mem.sab, region: d.region, doorbell: d.doorbell } });
    try {
      const t = new SharedMemoryTransport(mem, d.region, { timeoutMs: 10_000 });
      expect(t.read(1, 7, 4)).toBe(21);
      t.write(1, 0x14, 1, 0xab);
      expect(mem.u32[(d.region + 0x60) >>> 2]).toBe(0xab);
      expect(t.read(2, 5, 1)).toBe(15);
    } finally {
      await w.terminate();
    }
  });
});

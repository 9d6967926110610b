// mac= through a port on our device thread (virtio 1.2 §5.1.4.2, §5.1.6.5.2):
// the driver never writes the device configuration; with CTRL_MAC_ADDR it
// sends VIRTIO_NET_CTRL_MAC_ADDR_SET at every start (the device shows it in
// its config mac until a reset), without it the driver leaves MAC out and
// uses mac= as its own address.
import { afterEach, describe, expect, it } from "vitest";
import { Memory } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { type FeatureName, Vhost, parseWireSpec } from "@tpdk/vhost";
import { VirtioPort } from "@tpdk/virtio-pmd";
import * as v from "@tpdk/virtio";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function bringUp(offer: Partial<Record<FeatureName, boolean>>) {
  const mem = Memory.create(32 << 20);
  const vhost = new Vhost(mem, { maxSleepMs: 1 });
  const dev = vhost.addDevice({ name: "virtio0", wire: parseWireSpec("virtio0", new Map([["wire", "sink"]])), mac: "52:54:00:00:00:07", offer });
  await vhost.start();
  const port = VirtioPort.probe(mem, { portId: 0, transportOffset: dev.transportOffset, options: { queueSize: 64, mac: Uint8Array.of(2, 0, 0, 0, 0x0a, 1) } });
  cleanup = async () => {
    port.close();
    await vhost.stop();
  };
  const pool = Mempool.create(mem, "mac", { n: 512, cacheSize: 0 });
  port.configure(1, 1);
  port.rxQueueSetup(0, { pool });
  port.txQueueSetup(0);
  /** The device's config mac, as it holds it (diagnostics read; the driver goes through traps). */
  const configMac = (): string => Array.from(mem.u8.subarray(dev.transportOffset + v.DEVICE_CFG_BASE + v.NET_CFG_MAC, dev.transportOffset + v.DEVICE_CFG_BASE + v.NET_CFG_MAC + 6), (b) => b.toString(16).padStart(2, "0")).join(":");
  return { mem, dev, port, pool, configMac };
}

describe("mac= on a port of our device thread", () => {
  it("CTRL_MAC_ADDR offered: MAC_ADDR_SET at each start, the device shows it until its reset; no config write", async () => {
    const r = await bringUp({});
    expect(v.featureNames(r.port.features())).toEqual(expect.arrayContaining(["MAC", "CTRL_VQ", "CTRL_MAC_ADDR"]));
    expect(r.configMac()).toBe("52:54:00:00:00:07");
    const info = r.port.start();
    expect(info.macString).toBe("02:00:00:00:0A:01");
    expect(r.configMac()).toBe("02:00:00:00:0a:01");
    expect(r.dev.stats()).toMatchObject({ ctrlCommands: 1, ctrlErrors: 0, badTraps: 0 }); // badTraps: a config write would count
    r.port.stop();
    expect(r.configMac()).toBe("52:54:00:00:00:07"); // the reset restored the configured MAC
    r.port.start();
    expect(r.configMac()).toBe("02:00:00:00:0a:01");
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });

  it("without CTRL_MAC_ADDR: MAC is not negotiated, the port uses mac=, the device keeps its own", async () => {
    const r = await bringUp({ CTRL_MAC_ADDR: false });
    expect(v.hasFeature(r.port.features(), v.VIRTIO_NET_F_MAC)).toBe(false);
    expect(r.port.start().macString).toBe("02:00:00:00:0A:01");
    expect(r.configMac()).toBe("52:54:00:00:00:07");
    expect(r.dev.stats()).toMatchObject({ ctrlCommands: 0, badTraps: 0 });
    r.port.stop();
  });
});

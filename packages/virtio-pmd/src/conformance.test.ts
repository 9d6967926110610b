// The driver against a device that checks what the virtio 1.2 spec asks of a
// driver (the fake device's strict checks), one test per conformance fix.
import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { RxQueue } from "./rxq.js";
import { TxQueue } from "./txq.js";
import type { FakeNetDevice } from "@tpdk/testing/virtio-pmd";
import { ALL_FEATURES, type FakePort, type Rig, frame, frameOf, mqPort, packedRig, rig, setUpQueues, toMbuf } from "@tpdk/testing/virtio-pmd";
import { typedErrorOf } from "@tpdk/testing/eal";
import { releaseTestWire } from "@tpdk/testing/vhost";
import { PackedRxQueue } from "./packed-rxq.js";
import type { TrapHandler } from "./transport.js";

describe("avail.flags under EVENT_IDX (§2.7.7)", () => {
  it("stays 0 on every queue with EVENT_IDX (used_event says it); NO_INTERRUPT without", () => {
    for (const eventIdx of [true, false]) {
      const s = mqPort({}, { eventIdx });
      setUpQueues(s, 2, 2);
      s.port.start();
      const want = eventIdx ? 0 : v.VRING_AVAIL_F_NO_INTERRUPT;
      // rx 0, tx 0, rx 1, tx 1, the control queue (8: 4 pairs).
      expect([0, 1, 2, 3, 8].map((q) => s.dev.availFlags(q))).toEqual([want, want, want, want, want]);
      if (eventIdx) expect(s.dev.usedEvent(0)).toBe(0xffff);
      s.port.stop();
      expect(s.pool.available()).toBe(s.pool.size);
    }
  });
});

describe("RX notification at start", () => {
  it("notifies each RX queue once, after DRIVER_OK (and after VQ_PAIRS_SET), as DPDK does", () => {
    const s = mqPort();
    setUpQueues(s, 2, 2);
    s.port.start();
    const rxKicks = s.dev.kickLog.filter((k) => k.queue === 0 || k.queue === 2);
    expect(rxKicks.map((k) => k.queue)).toEqual([0, 2]);
    for (const k of rxKicks) expect(k.status & v.STATUS_DRIVER_OK).toBe(v.STATUS_DRIVER_OK);
    expect(s.dev.kicks(0)).toBe(1);
    expect(s.dev.kicks(2)).toBe(1);
    // The control queue's kick (VQ_PAIRS_SET) came first: the pairs were enabled when RX was notified.
    expect(s.dev.kickLog[0]!.queue).toBe(8);
    s.port.stop();
  });
});

describe("VQ_PAIRS_SET enables only configured queues (§5.1.6.5.5)", () => {
  it("with fewer TX than RX queues, the missing transmit queues are configured (empty) before the command", () => {
    const s = mqPort();
    setUpQueues(s, 3, 1);
    s.port.start(); // the fake refuses VQ_PAIRS_SET(n) when one of the 2n queues is not enabled
    expect(s.dev.ctrlLog.map((c) => c.data)).toEqual([[3, 0]]);
    expect(s.dev.pairs).toBe(3);
    expect([0, 1, 2, 3, 4, 5].map((q) => s.dev.queues[q]!.enabled)).toEqual([true, true, true, true, true, true]);
    expect([3, 5].map((q) => s.dev.availIdx(q))).toEqual([0, 0]); // empty: nothing is ever made available there
    expect(s.dev.queues[6]!.enabled).toBe(false); // pair 3 is not enabled and not configured
    s.port.stop();
    expect(s.pool.available()).toBe(s.pool.size);
  });

  it("with fewer RX than TX queues, the missing receive queues are configured (no buffers)", () => {
    const s = mqPort();
    setUpQueues(s, 1, 2);
    s.port.start();
    expect(s.dev.pairs).toBe(2);
    expect(s.dev.queues[2]!.enabled).toBe(true);
    expect(s.dev.availIdx(2)).toBe(0);
    expect(s.dev.availIdx(0)).toBe(64);
    // A restart does it again (the reset forgot them).
    s.port.stop();
    s.port.start();
    expect(s.dev.pairs).toBe(2);
    s.port.stop();
    expect(s.pool.available()).toBe(s.pool.size);
  });
});

describe("the control queue under IN_ORDER (§2.7.5)", () => {
  it("uses descriptors in ring order, wrapping at the end of the table, not head 0 every time", () => {
    const s = mqPort();
    setUpQueues(s, 2, 2);
    s.port.start();
    for (let i = 0; i < 20; i++) s.port.ctrlCommand(v.VIRTIO_NET_CTRL_MQ, v.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, [2, 0]);
    expect(v.hasFeature(s.port.features(), v.VIRTIO_F_IN_ORDER)).toBe(true);
    expect(s.dev.ctrlLog.length).toBe(21);
    expect(s.dev.ctrlOrderViolations).toBe(0);
    s.port.stop();
    // After a reset the ring starts over at descriptor 0.
    s.port.start();
    s.port.ctrlCommand(v.VIRTIO_NET_CTRL_MQ, v.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, [2, 0]);
    expect(s.dev.ctrlOrderViolations).toBe(0);
    s.port.stop();
  });
});

describe("a start that fails", () => {
  /** Make the `n`th write of queue_enable throw (a device that fails mid queue setup). */
  function failingEnable(n: number): (d: FakeNetDevice) => TrapHandler {
    return (d) => {
      let enables = 0;
      return {
        read: (space, off, width) => d.read(space, off, width),
        write: (space, off, width, value) => {
          if (space === v.SPACE_COMMON_CFG && off === v.CC_QUEUE_ENABLE && ++enables === n) throw new Error("queue_enable refused");
          d.write(space, off, width, value);
        },
        kicked: (q) => d.kicked(q),
      };
    };
  }

  it("before DRIVER_OK (after the RX rings were filled): resets the device, sets FAILED, and frees every RX mbuf", () => {
    const s = mqPort({}, {}, failingEnable(3)); // rx 0, rx 1 filled, then tx 0 fails
    setUpQueues(s, 2, 2);
    const resets = s.dev.resets;
    const e = typedErrorOf(() => s.port.start());
    expect(e.message).toMatch(/queue_enable refused/);
    expect(e.message).toMatch(/^virtio0: queue setup failed/);
    expect(s.pool.available()).toBe(s.pool.size);
    expect(s.dev.resets).toBe(resets + 1);
    expect(s.dev.status & v.STATUS_FAILED).toBe(v.STATUS_FAILED);
    expect(s.dev.status & v.STATUS_DRIVER_OK).toBe(0);
    expect(s.port.started).toBe(false);
    // The bring-up runs again from the reset: this time it succeeds.
    s.port.start();
    expect(s.dev.status & v.STATUS_DRIVER_OK).toBe(v.STATUS_DRIVER_OK);
    s.port.close();
    expect(s.pool.available()).toBe(s.pool.size);
  });

  it("close() of a started port frees every mbuf the rings hold", () => {
    const s = mqPort();
    setUpQueues(s, 2, 2);
    s.port.start();
    expect(s.pool.available()).toBe(s.pool.size - 128);
    s.port.close();
    expect(s.pool.available()).toBe(s.pool.size);
    expect(() => RxQueue.attach(s.mem, 0, 0)).toThrow(/not set up/);
  });
});

describe("DEVICE_NEEDS_RESET after start (§2.1.2)", () => {
  /** The fake device's heartbeat moves (it is alive) before each check. */
  function beat(s: FakePort): void {
    const w = (s.dev.region + v.HDR_HEARTBEAT) >>> 2;
    s.mem.u32[w] = s.mem.u32[w]! + 1;
  }
  const xstat = (s: FakePort, name: string): number => s.port.xstats().find((x) => x.name === name)!.value;

  it("is noticed on the configuration change notification: link down, deviceFault says so, stop/start recovers", () => {
    const s = mqPort();
    setUpQueues(s, 1, 1);
    s.port.start();
    const t0 = performance.now();
    beat(s);
    expect(s.port.checkDevice(t0)).toBe(true);
    s.dev.setNeedsReset();
    beat(s);
    // Right away (no poll period waited): the notification moved the interrupt words.
    expect(s.port.checkDevice(t0 + 1)).toBe(false);
    expect(s.port.needsReset).toBe(true);
    expect(s.port.deviceFault).toMatch(/^device needs reset \(DEVICE_NEEDS_RESET\)/);
    expect(s.port.linkStatus().up).toBe(false);
    expect(xstat(s, "device_needs_reset")).toBe(1);
    beat(s);
    expect(s.port.checkDevice(t0 + 2)).toBe(false); // sticky until restarted; counted once
    expect(xstat(s, "device_needs_reset")).toBe(1);
    // The device is alive: stop() resets it and gives every mbuf back; start() brings the port up again.
    s.port.stop();
    expect(s.pool.available()).toBe(s.pool.size);
    s.port.start();
    beat(s);
    expect(s.port.checkDevice(performance.now())).toBe(true);
    expect(s.port.needsReset).toBe(false);
    expect(s.port.deviceFault).toBeNull();
    expect(s.port.linkStatus().up).toBe(true);
    s.port.close();
  });

  it("without a control queue, the TX queues' words carry the notification", () => {
    const s = mqPort({ offered: ALL_FEATURES, maxPairs: 1 });
    setUpQueues(s, 1, 1);
    s.port.start();
    beat(s);
    expect(s.port.checkDevice()).toBe(true);
    s.dev.setNeedsReset();
    beat(s);
    expect(s.port.checkDevice()).toBe(false);
    expect(s.port.needsReset).toBe(true);
    s.port.close();
  });

  it("linkStatus() reads it too (a device that did not notify)", () => {
    const s = mqPort();
    setUpQueues(s, 1, 1);
    s.port.start();
    s.dev.setNeedsReset(false);
    beat(s);
    expect(s.port.checkDevice()).toBe(true); // nothing was notified: no status read
    expect(s.port.linkStatus().up).toBe(false);
    expect(s.port.needsReset).toBe(true);
    s.port.close();
  });
});

describe("frames longer than the MTU are not transmitted (§5.1.4.1)", () => {
  const xs = (r: Rig, name: string): number => r.port.xstats().find((x) => x.name === name)!.value;

  it.each([
    ["MTU 1500 negotiated", { mtu: 1500 }, 1518],
    ["MTU 9000 negotiated", { mtu: 9000 }, 9018],
    ["MTU not offered (the device's 9000 is not the driver's to use)", { mtu: 9000, offered: v.withFeature(ALL_FEATURES, v.VIRTIO_NET_F_MTU, false) }, 1518],
  ] as const)("%s: up to %i bytes (MTU + 14 + one VLAN tag) go out; one byte more is counted and handed back (the caller drops it)", (_name, device, max) => {
    const r = rig({ device, dataRoom: 2048 + 128, poolSize: 512 });
    const segs = Math.ceil((max + 1) / 2048);
    const pkts = Uint32Array.of(
      toMbuf(r, frame(64, 1)),
      toMbuf(r, frame(max + 1, 2), segs),
      toMbuf(r, frame(max, 3), segs),
      toMbuf(r, frame(max + 100, 4), segs),
      toMbuf(r, frame(60, 5)),
    );
    const big = [pkts[1]!, pkts[3]!];
    // Three sent; the two oversize ones handed back behind them (the caller frees what it keeps).
    expect(r.txq.txBurst(pkts, 5)).toBe(3);
    expect([...pkts.subarray(3)].sort()).toEqual(big.sort());
    for (const m of big) r.mbufs.free(m);
    const sent = r.dev.drainTx(r.txVq).map((c) => r.dev.gather(c, r.hdr).length);
    expect(sent).toEqual([64, max, 60]);
    expect(xs(r, "tx_q0_oversize_packets")).toBe(2);
    expect(xs(r, "tx_q0_good_packets")).toBe(3);
    expect(r.port.stats()).toMatchObject({ opackets: 3, obytes: 64 + max + 60, oerrors: 2 });
    r.txq.cleanup();
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

describe("one queue object per queue (the ring indices are the object's own)", () => {
  it("a second attach of a queue in use is refused with EBUSY; after detach() it is allowed", () => {
    const r = rig();
    const e = typedErrorOf(() => RxQueue.attach(r.mem, 0, 0));
    expect(e.code).toBe("EBUSY");
    expect(e.message).toMatch(/^virtio-pmd: rx queue 0 of port 0 is already driven by another queue object/);
    expect(typedErrorOf(() => TxQueue.attach(r.mem, 0, 0)).code).toBe("EBUSY");
    r.rxq.detach();
    const rx2 = RxQueue.attach(r.mem, 0, 0);
    r.dev.deliver(r.rxVq, frame(64, 1), r.hdr, true);
    r.dev.publishUsed(r.rxVq);
    const got = new Uint32Array(4);
    expect(r.rxq.rxBurst(got, 4)).toBe(0); // the detached object does not touch the ring
    expect(rx2.rxBurst(got, 4)).toBe(1);
    r.mbufs.free(got[0]!);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });

  it("an object that drove the queue in this run and detached: a new attach is refused until a restart (its ring positions left with it)", () => {
    const r = rig({ rxDesc: 16 });
    const arr = new Uint32Array(64);
    for (let i = 0; i < 6; i++) r.dev.deliver(r.rxVq, frame(64, i), r.hdr, true);
    r.dev.publishUsed(r.rxVq);
    expect(r.rxq.rxBurst(arr, 64)).toBe(6);
    for (let i = 0; i < 6; i++) r.mbufs.free(arr[i]!);
    r.rxq.detach();
    // A new object would start from used position 0: it would take the six used entries again and
    // free (as bad) the buffers posted since at those descriptors, which the device still holds.
    const e = typedErrorOf(() => RxQueue.attach(r.mem, 0, 0));
    expect(e.code).toBe("EBUSY");
    expect(e.message).toBe(
      "virtio-pmd: rx queue 0 of port 0 was driven by another queue object in this run, which detached: the ring's positions were that object's own; stop and start the port to hand the queue over",
    );
    // The TX object never burst in this run: handing it over is fine.
    r.txq.detach();
    const tx2 = TxQueue.attach(r.mem, 0, 0);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
    r.port.start();
    const rx2 = RxQueue.attach(r.mem, 0, 0);
    r.dev.deliver(r.rxVq, frame(70, 1), r.hdr, true);
    r.dev.publishUsed(r.rxVq);
    expect(rx2.rxBurst(arr, 64)).toBe(1);
    expect(r.port.stats().ierrors).toBe(0);
    expect(tx2.txBurst(arr, 1)).toBe(1);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });

  it("packed rings: the same refusal after an object that drove the queue detached", () => {
    const frames = [frameOf(64, 1), frameOf(64, 2)];
    const s = packedRig(16, frames);
    releaseTestWire(s.mem, s.gen.recordOffset, 2);
    s.pass(2);
    const arr = new Uint32Array(64);
    expect(s.rxq.rxBurst(arr, 64)).toBe(2);
    s.mbufs.free(arr[0]!);
    s.mbufs.free(arr[1]!);
    s.rxq.detach();
    expect(typedErrorOf(() => PackedRxQueue.attach(s.mem, 0, 0)).message).toMatch(/^virtio-pmd: rx queue 0 of port 0 was driven by another queue object in this run, which detached/);
    s.port.stop();
    expect(s.pool.available()).toBe(s.pool.size);
    s.port.start();
    expect(PackedRxQueue.attach(s.mem, 0, 0).rxBurst(arr, 64)).toBe(0);
    s.port.stop();
    s.port.close();
  });

  it("a restart frees the claims: a new object takes the queue over and the old one stays out", () => {
    const r = rig();
    r.port.stop();
    r.port.start();
    const rx2 = RxQueue.attach(r.mem, 0, 0); // e.g. another lcore after the restart
    r.dev.deliver(r.rxVq, frame(64, 1), r.hdr, true);
    r.dev.publishUsed(r.rxVq);
    const got = new Uint32Array(4);
    expect(r.rxq.rxBurst(got, 4)).toBe(0);
    expect(rx2.rxBurst(got, 4)).toBe(1);
    expect(rx2.posted + 1).toBe(64); // one buffer taken, the old object refilled nothing
    r.mbufs.free(got[0]!);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

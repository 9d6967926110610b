import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { negotiateFeatures } from "./negotiate.js";
import { parseDriverArgs } from "./options.js";
import { RxQueue } from "./rxq.js";
import { ALL_FEATURES, MQ_FEATURES, type FakePort, frame, mqPort, setUpQueues } from "@tpdk/testing/virtio-pmd";
import { typedErrorOf } from "@tpdk/testing/eal";
import { TxQueue } from "./txq.js";

describe("MQ and CTRL_VQ negotiation", () => {
  it("takes CTRL_VQ and MQ when offered; mq=0 drops MQ only; MQ without CTRL_VQ is never taken", () => {
    const f = negotiateFeatures("virtio0", MQ_FEATURES);
    expect([v.hasFeature(f, v.VIRTIO_NET_F_CTRL_VQ), v.hasFeature(f, v.VIRTIO_NET_F_MQ)]).toEqual([true, true]);
    const g = negotiateFeatures("virtio0", MQ_FEATURES, { mq: false });
    expect([v.hasFeature(g, v.VIRTIO_NET_F_CTRL_VQ), v.hasFeature(g, v.VIRTIO_NET_F_MQ)]).toEqual([true, false]);
    const broken = v.withFeature(ALL_FEATURES, v.VIRTIO_NET_F_MQ, true); // MQ offered alone: not spec-conforming
    expect(v.hasFeature(negotiateFeatures("virtio0", broken), v.VIRTIO_NET_F_MQ)).toBe(false);
    expect(typedErrorOf(() => negotiateFeatures("virtio0", broken, { mq: true })).message).toMatch(/mq=1 but the device offers MQ without CTRL_VQ/);
    expect(typedErrorOf(() => negotiateFeatures("virtio0", ALL_FEATURES, { mq: true })).message).toMatch(/mq=1 but the device does not offer MQ/);
  });

  it("parseDriverArgs takes mq=0|1", () => {
    expect(parseDriverArgs("virtio0", new Map([["mq", "0"]])).mq).toBe(false);
    expect(parseDriverArgs("virtio0", new Map([["mq", "1"]])).mq).toBe(true);
    expect(parseDriverArgs("virtio0", new Map()).mq).toBeUndefined();
  });

  it("configure allows up to max_virtqueue_pairs queues and names the limit", () => {
    const r = mqPort();
    expect(r.port.maxQueuePairs).toBe(4);
    expect(typedErrorOf(() => r.port.configure(5, 1)).message).toMatch(/5 rx queues requested, at most 4: the device's max_virtqueue_pairs is 4/);
    r.port.configure(4, 4);
    const s = mqPort({}, { mq: false });
    expect(s.port.maxQueuePairs).toBe(1);
    expect(typedErrorOf(() => s.port.configure(1, 2)).message).toMatch(/at most 1: MQ is not negotiated/);
    const t = mqPort({ offered: v.withFeature(MQ_FEATURES, v.VIRTIO_NET_F_MQ, false) });
    expect(typedErrorOf(() => t.port.configure(2, 2)).message).toMatch(/the device does not offer MQ/);
  });
});

describe("the control queue at start (§5.1.6.5)", () => {
  it("sets the control queue up at vq 2N and sends VQ_PAIRS_SET(n) after DRIVER_OK, with every queue set up", () => {
    const statusAtCommand: number[] = [];
    const enabledAtCommand: boolean[] = [];
    let r!: FakePort;
    r = mqPort({
      ctrl: (cls, cmd, data) => {
        statusAtCommand.push(r.dev.status);
        enabledAtCommand.push(...[0, 1, 2, 3].map((q) => r.dev.queues[q]!.enabled));
        return cls === v.VIRTIO_NET_CTRL_MQ && cmd === v.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && data[0] === 2 && data[1] === 0 ? v.VIRTIO_NET_OK : v.VIRTIO_NET_ERR;
      },
    });
    setUpQueues(r, 2, 2);
    r.port.start();
    expect(r.dev.queues[8]!.enabled).toBe(true); // 4 pairs: control queue 8
    expect(r.dev.queues[8]!.size).toBe(16);
    expect(r.dev.ctrlLog).toEqual([{ cls: v.VIRTIO_NET_CTRL_MQ, cmd: v.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, data: [2, 0] }]);
    expect(statusAtCommand[0]! & v.STATUS_DRIVER_OK).toBe(v.STATUS_DRIVER_OK);
    expect(enabledAtCommand).toEqual([true, true, true, true]);
    // RX rings of both queues were filled before the command.
    expect(r.dev.pending(0)).toBe(64);
    expect(r.dev.pending(2)).toBe(64);
  });

  it("uses control queue 2 without MQ, and sends no command for one pair", () => {
    const r = mqPort({}, { mq: false });
    setUpQueues(r, 1, 1);
    r.port.start();
    expect(r.dev.queues[2]!.enabled).toBe(true);
    expect(r.dev.ctrlLog).toEqual([]);
    const s = mqPort();
    setUpQueues(s, 1, 1);
    s.port.start();
    expect(s.dev.queues[8]!.enabled).toBe(true);
    expect(s.dev.ctrlLog).toEqual([]);
  });

  it("asks for max(nb_rx, nb_tx) pairs", () => {
    const r = mqPort();
    setUpQueues(r, 3, 1);
    r.port.start();
    expect(r.dev.ctrlLog.map((c) => c.data)).toEqual([[3, 0]]);
    expect(r.dev.pairs).toBe(3);
  });

  it("resends VQ_PAIRS_SET after a restart (the reset went back to one pair)", () => {
    const r = mqPort();
    setUpQueues(r, 2, 2);
    r.port.start();
    r.port.stop();
    expect(r.dev.pairs).toBe(1);
    r.port.start();
    expect(r.dev.pairs).toBe(2);
    expect(r.dev.ctrlLog.length).toBe(2);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });

  it("a device answering ERR fails start naming the command; FAILED is set and every mbuf is back", () => {
    const r = mqPort({ ctrl: () => v.VIRTIO_NET_ERR });
    setUpQueues(r, 2, 2);
    const e = typedErrorOf(() => r.port.start());
    expect(e.code).toBe("ECTRL");
    expect(e.message).toMatch(/control command MQ VQ_PAIRS_SET\(2,0\): device answered VIRTIO_NET_ERR \(during VQ_PAIRS_SET\)/);
    expect(r.dev.status & v.STATUS_FAILED).toBe(v.STATUS_FAILED);
    expect(r.pool.available()).toBe(r.pool.size);
    expect(r.port.started).toBe(false);
  });

  it("a command returned unanswered fails start (ECTRL)", () => {
    const r = mqPort({ ctrl: "unanswered" });
    setUpQueues(r, 2, 1);
    expect(typedErrorOf(() => r.port.start()).message).toMatch(/returned the command unanswered/);
    expect(r.pool.available()).toBe(r.pool.size);
  });

  it("a device that never answers: ETIMEDOUT naming the command, the device is declared dead", () => {
    const r = mqPort({ ctrl: "silent" }, { trapTimeoutMs: 50 });
    setUpQueues(r, 2, 2);
    const e = typedErrorOf(() => r.port.start());
    expect(e.code).toBe("ETIMEDOUT");
    expect(e.message).toMatch(/MQ VQ_PAIRS_SET\(2,0\) not answered within 50 ms/);
    expect(r.port.deviceFault).toMatch(/control command timed out/);
    expect(r.pool.available()).toBe(r.pool.size);
    expect(typedErrorOf(() => r.port.start()).code).toBe("ENODEV");
  });

  it("ctrlCommand is refused while stopped", () => {
    const r = mqPort();
    setUpQueues(r, 1, 1);
    expect(typedErrorOf(() => r.port.ctrlCommand(v.VIRTIO_NET_CTRL_RX, v.VIRTIO_NET_CTRL_RX_PROMISC, [1])).code).toBe("ESTATE");
    r.port.start();
    // The fake answers ERR to RX commands (the driver does not negotiate CTRL_RX, so it would not send them).
    expect(typedErrorOf(() => r.port.ctrlCommand(v.VIRTIO_NET_CTRL_RX, v.VIRTIO_NET_CTRL_RX_PROMISC, [1])).code).toBe("ECTRL");
    // promiscuousEnable sends nothing: no CTRL_RX, no filter.
    r.port.promiscuousEnable();
    expect(r.dev.ctrlLog.length).toBe(1);
    expect(r.port.promiscuous).toBe(true);
  });
});

describe("traffic on several queues", () => {
  it("each queue receives what the device put in its receive queue and sends on its transmit queue, with its own stats", () => {
    const r = mqPort();
    setUpQueues(r, 2, 2);
    const info = r.port.start();
    const hdr = info.hdrSize;
    const rx = [RxQueue.attach(r.mem, 0, 0), RxQueue.attach(r.mem, 0, 1)];
    const tx = [TxQueue.attach(r.mem, 0, 0), TxQueue.attach(r.mem, 0, 1)];
    for (let i = 0; i < 6; i++) r.dev.deliver(i % 2 === 0 ? 0 : 2, frame(60 + i, i), hdr, true);
    r.dev.publishUsed(0);
    r.dev.publishUsed(2);
    const got = new Uint32Array(32);
    for (const q of [0, 1]) {
      const n = rx[q]!.rxBurst(got, 32);
      expect(n).toBe(3);
      for (let k = 0; k < n; k++) expect(r.mbufs.pktLen(got[k]!)).toBe(60 + 2 * k + q);
      // Send them back out on the same queue index.
      expect(tx[q]!.txBurst(got, n)).toBe(n);
    }
    expect(r.dev.drainTx(1).length).toBe(3);
    expect(r.dev.drainTx(3).length).toBe(3);
    const x = Object.fromEntries(r.port.xstats().map((s) => [s.name, s.value]));
    expect([x["rx_q0_good_packets"], x["rx_q1_good_packets"], x["tx_q0_good_packets"], x["tx_q1_good_packets"]]).toEqual([3, 3, 3, 3]);
    expect(r.port.stats().ipackets).toBe(6);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

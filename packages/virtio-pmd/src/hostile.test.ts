import { describe, expect, it } from "vitest";
import { frame, fromMbuf, rig, toMbuf, type Rig, type RigOptions } from "@tpdk/testing/virtio-pmd";

/**
 * A device that misbehaves must cost counted errors, never a crash, a lost
 * mbuf or an mbuf handed out twice. The pools are debug pools: a double free
 * throws EDOUBLEFREE. Every test ends with the pool full again after stop().
 */

function xs(r: Rig, name: string): number {
  const x = r.port.xstats().find((s) => s.name === name);
  if (!x) throw new Error(`no xstat ${name}`);
  return x.value;
}

function receiveAll(r: Rig): number[] {
  const arr = new Uint32Array(64);
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const n = r.rxq.rxBurst(arr, 64);
    out.push(...arr.subarray(0, n));
  }
  return out;
}

function finish(r: Rig, received: number[]): void {
  expect(new Set(received).size).toBe(received.length); // never handed out twice
  for (const m of received) r.mbufs.free(m);
  r.port.stop(10);
  expect(r.pool.available()).toBe(r.pool.size);
}

const MODES: [string, RigOptions][] = [
  ["free-list", { pmd: { inOrder: false } }],
  ["non-mergeable", { pmd: { inOrder: false, mrgRxbuf: false } }],
];

describe.each(MODES)("hostile device on RX (%s)", (_, opts) => {
  const mrg = () => opts.pmd?.mrgRxbuf !== false;

  it("a used id out of range is counted and skipped", () => {
    const r = rig(opts);
    r.dev.pushUsed(r.rxVq, 9999, 100);
    r.dev.deliver(r.rxVq, frame(64, 1), r.hdr, mrg());
    r.dev.publishUsed(r.rxVq);
    const got = receiveAll(r);
    expect(got.map((m) => fromMbuf(r, m))).toEqual([frame(64, 1)]);
    expect(xs(r, "rx_q0_bad_used_id")).toBe(1);
    expect(r.port.stats().ierrors).toBe(1);
    finish(r, got);
  });

  it("a used id that is not outstanding (returned twice) is counted and skipped", () => {
    const r = rig(opts);
    const [h] = r.dev.deliver(r.rxVq, frame(64, 1), r.hdr, mrg())!;
    r.dev.pushUsed(r.rxVq, h!, 76); // again
    r.dev.publishUsed(r.rxVq);
    const got = receiveAll(r);
    expect(got).toHaveLength(1);
    expect(xs(r, "rx_q0_bad_used_id")).toBe(1);
    // The same descriptor reposted later and returned twice again: still one packet each time.
    finish(r, got);
  });

  it("a used len beyond the posted buffer is counted; the buffer is dropped", () => {
    const r = rig(opts);
    const h = r.dev.popAvail(r.rxVq);
    r.dev.pushUsed(r.rxVq, h, 5000);
    r.dev.deliver(r.rxVq, frame(80, 2), r.hdr, mrg());
    r.dev.publishUsed(r.rxVq);
    const got = receiveAll(r);
    expect(got.map((m) => fromMbuf(r, m))).toEqual([frame(80, 2)]);
    expect(xs(r, "rx_q0_bad_used_len")).toBe(1);
    finish(r, got);
  });

  it("a used.idx that runs ahead of what was made available is counted and skipped", () => {
    const r = rig(opts);
    r.dev.publishUsed(r.rxVq, 500); // nothing written, 500 "used" of 64 posted
    expect(receiveAll(r)).toHaveLength(0);
    expect(xs(r, "rx_q0_bad_used_idx")).toBe(1);
    // The device comes to its senses: traffic flows from there.
    r.dev.deliver(r.rxVq, frame(64, 3), r.hdr, mrg());
    r.dev.publishUsed(r.rxVq);
    const got = receiveAll(r);
    expect(got.map((m) => fromMbuf(r, m))).toEqual([frame(64, 3)]);
    finish(r, got);
  });

  it("random garbage in the used ring never crashes, loses or duplicates an mbuf", () => {
    const r = rig(opts);
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const got: number[] = [];
    const arr = new Uint32Array(64);
    for (let round = 0; round < 200; round++) {
      const k = 1 + rnd(8);
      for (let i = 0; i < k; i++) {
        const choice = rnd(4);
        if (choice === 0) r.dev.pushUsed(r.rxVq, rnd(80), rnd(3000));
        else r.dev.deliver(r.rxVq, frame(60 + rnd(1400), round), r.hdr, mrg());
      }
      if (rnd(10) === 0) r.dev.publishUsed(r.rxVq, rnd(0x10000));
      else r.dev.publishUsed(r.rxVq);
      const n = r.rxq.rxBurst(arr, 1 + rnd(64));
      for (let i = 0; i < n; i++) {
        // Hand back half of them now, keep the others until the end.
        if (rnd(2) === 0) r.mbufs.free(arr[i]!);
        else got.push(arr[i]!);
      }
    }
    expect(r.port.stats().ierrors).toBeGreaterThan(0);
    finish(r, got);
  });
});

describe("hostile device on RX, mergeable", () => {
  it("a frame cut short (num_buffers beyond what was used) is dropped and counted", () => {
    const r = rig({ dataRoom: 128 + 256, poolSize: 256, pmd: { inOrder: false } });
    r.dev.deliver(r.rxVq, frame(400, 1), r.hdr, true, 3); // 2 buffers used, header claims 3
    r.dev.publishUsed(r.rxVq);
    const got = receiveAll(r);
    expect(got).toHaveLength(0);
    expect(xs(r, "rx_q0_truncated_packets")).toBe(1);
    finish(r, got);
  });

  it("num_buffers 0 is counted and dropped; a bad id inside a chain drops the frame", () => {
    const r = rig({ dataRoom: 128 + 256, poolSize: 256, pmd: { inOrder: false } });
    r.dev.deliver(r.rxVq, frame(100, 1), r.hdr, true, 0);
    r.dev.publishUsed(r.rxVq);
    expect(receiveAll(r)).toHaveLength(0);
    expect(xs(r, "rx_q0_bad_num_buffers")).toBe(1);
    // First buffer fine with num_buffers 2, second used element names a bogus id.
    const h = r.dev.popAvail(r.rxVq);
    const d = r.dev.desc(r.rxVq, h);
    r.mem.u8.set(frame(100, 2), d.addr + r.hdr);
    r.mem.u8[d.addr + 10] = 2;
    r.mem.u8[d.addr + 11] = 0;
    r.dev.pushUsed(r.rxVq, h, 112);
    r.dev.pushUsed(r.rxVq, 7777, 50);
    r.dev.publishUsed(r.rxVq);
    expect(receiveAll(r)).toHaveLength(0);
    expect(xs(r, "rx_q0_bad_used_id")).toBe(1);
    finish(r, []);
  });

  it("IN_ORDER: a used id that disagrees with the position is counted; the position wins", () => {
    const r = rig({ rxDesc: 64 });
    expect(r.info.features).toContain("IN_ORDER");
    const [h] = r.dev.deliver(r.rxVq, frame(64, 1), r.hdr, true)!;
    // Rewrite the id of the element just pushed.
    const q = r.dev.queues[r.rxVq]!;
    r.mem.u32[(q.used + 4 + 8 * h!) >>> 2] = 63;
    r.dev.publishUsed(r.rxVq);
    const got = receiveAll(r);
    expect(got.map((m) => fromMbuf(r, m))).toEqual([frame(64, 1)]);
    expect(xs(r, "rx_q0_bad_used_id")).toBe(1);
    r.dev.publishUsed(r.rxVq, 300);
    expect(receiveAll(r)).toHaveLength(0);
    expect(xs(r, "rx_q0_bad_used_idx")).toBe(1);
    finish(r, got);
  });
});

describe.each([
  ["free-list", { pmd: { inOrder: false } }],
  ["in-order", {}],
] as [string, RigOptions][])("hostile device on TX (%s)", (mode, opts) => {
  it("bad used ids and a runaway used.idx are counted; every mbuf is freed exactly once", () => {
    const r = rig({ ...opts, txDesc: 64 });
    const arr = new Uint32Array(8);
    for (let i = 0; i < 8; i++) arr[i] = toMbuf(r, frame(64, i), i % 3 === 0 ? 2 : 1);
    expect(r.txq.txBurst(arr, 8)).toBe(8);
    const heads: number[] = [];
    for (let h = r.dev.popAvail(r.txVq); h >= 0; h = r.dev.popAvail(r.txVq)) heads.push(h);
    if (mode === "free-list") {
      r.dev.pushUsed(r.txVq, 9999, 0); // out of range
      r.dev.pushUsed(r.txVq, heads[0]!, 0);
      r.dev.pushUsed(r.txVq, heads[0]!, 0); // twice
      r.dev.publishUsed(r.txVq);
      r.txq.cleanup();
      expect(xs(r, "tx_q0_bad_used_id")).toBe(2);
      expect(r.txq.inFlight).toBe(7);
    }
    r.dev.publishUsed(r.txVq, 1000); // runs ahead
    r.txq.cleanup();
    expect(xs(r, "tx_q0_bad_used_idx")).toBe(1);
    expect(r.port.stats().oerrors).toBeGreaterThan(0);
    // Still usable afterwards.
    const m = toMbuf(r, frame(64, 50));
    expect(r.txq.txBurst(Uint32Array.of(m), 1)).toBe(1);
    r.port.stop(10);
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

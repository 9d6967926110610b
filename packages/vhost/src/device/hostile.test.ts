import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import type { DeviceStatName } from "./stats.js";
import type { DriverRing } from "@tpdk/testing/vhost";
import { type Fixture, deviceFixture, frame, writeDescTable } from "@tpdk/testing/vhost";

const W = v.VRING_DESC_F_WRITE;
const N = v.VRING_DESC_F_NEXT;
const I = v.VRING_DESC_F_INDIRECT;
const OFFERED = deviceFixture({ noStart: true }).dev.offered;
const NOT_IN_ORDER = v.withFeature(OFFERED, v.VIRTIO_F_IN_ORDER, false);

/** A good TX buffer (header + 60-byte frame). */
function good(f: Fixture): number {
  const a = f.arena.alloc(72);
  f.mem.u8.set(frame(60, 0x40), a + 12);
  return a;
}

interface TxCase {
  name: string;
  error: DeviceStatName;
  /** Build the bad chain at head 0 (ring size 8). */
  build(f: Fixture, tx: DriverRing): void;
  features?: v.Features;
}

const TX_CASES: TxCase[] = [
  {
    name: "a loop (0 -> 1 -> 0)",
    error: "errChainLength",
    build: (f, tx) => {
      tx.setDesc(0, good(f), 12, N, 1);
      tx.setDesc(1, good(f), 60, N, 0);
    },
  },
  {
    name: "a self-loop",
    error: "errChainLength",
    build: (f, tx) => tx.setDesc(0, good(f), 72, N, 0),
  },
  {
    name: "next beyond the queue",
    error: "errNextIndex",
    build: (f, tx) => tx.setDesc(0, good(f), 72, N, 8),
  },
  {
    name: "INDIRECT together with NEXT",
    error: "errIndirectNext",
    build: (f, tx) => {
      const t = f.arena.alloc(16);
      writeDescTable(f.mem, t, [[good(f), 72, 0, 0]]);
      tx.setDesc(0, t, 16, I | N, 1);
      tx.setDesc(1, good(f), 72);
    },
  },
  {
    name: "a nested indirect table",
    error: "errIndirectNested",
    build: (f, tx) => {
      const inner = f.arena.alloc(16);
      writeDescTable(f.mem, inner, [[good(f), 72, 0, 0]]);
      const outer = f.arena.alloc(16);
      writeDescTable(f.mem, outer, [[inner, 16, I, 0]]);
      tx.setDesc(0, outer, 16, I);
    },
  },
  {
    name: "an indirect table of length 0",
    error: "errIndirectTable",
    build: (f, tx) => tx.setDesc(0, f.arena.alloc(16), 0, I),
  },
  {
    name: "an indirect table length not a multiple of 16",
    error: "errIndirectTable",
    build: (f, tx) => {
      const t = f.arena.alloc(32);
      writeDescTable(f.mem, t, [[good(f), 72, 0, 0]]);
      tx.setDesc(0, t, 17, I);
    },
  },
  {
    name: "a misaligned indirect table",
    error: "errIndirectTable",
    build: (f, tx) => tx.setDesc(0, f.arena.alloc(48) + 2, 16, I),
  },
  {
    name: "an indirect table outside memory",
    error: "errAddrRange",
    build: (f, tx) => tx.setDesc(0, f.mem.size - 16, 32, I),
  },
  {
    name: "INDIRECT without INDIRECT_DESC negotiated",
    error: "errIndirectFeature",
    features: v.withFeature(NOT_IN_ORDER, v.VIRTIO_F_INDIRECT_DESC, false),
    build: (f, tx) => {
      const t = f.arena.alloc(16);
      writeDescTable(f.mem, t, [[good(f), 72, 0, 0]]);
      tx.setDesc(0, t, 16, I);
    },
  },
  {
    name: "next beyond the indirect table",
    error: "errNextIndex",
    build: (f, tx) => {
      const t = f.arena.alloc(32);
      writeDescTable(f.mem, t, [
        [good(f), 12, N, 1],
        [good(f), 60, N, 2],
      ]);
      tx.setDesc(0, t, 32, I);
    },
  },
  {
    name: "a loop inside an indirect table",
    error: "errChainLength",
    build: (f, tx) => {
      const t = f.arena.alloc(32);
      writeDescTable(f.mem, t, [
        [good(f), 12, N, 1],
        [good(f), 60, N, 0],
      ]);
      tx.setDesc(0, t, 32, I);
    },
  },
  {
    name: "an address with a non-zero high half",
    error: "errAddrHigh",
    build: (f, tx) => tx.setDesc(0, good(f), 72, 0, 0, 1),
  },
  {
    name: "a buffer running past the end of memory",
    error: "errAddrRange",
    build: (f, tx) => tx.setDesc(0, f.mem.size - 40, 72),
  },
  {
    name: "a buffer inside the EAL header",
    error: "errAddrRange",
    build: (_f, tx) => tx.setDesc(0, 256, 72),
  },
  {
    name: "a device-writable descriptor before a readable one",
    error: "errDescOrder",
    build: (f, tx) => {
      tx.setDesc(0, good(f), 12, W | N, 1);
      tx.setDesc(1, good(f), 72);
    },
  },
  {
    name: "only device-writable descriptors",
    error: "errTxShort",
    build: (f, tx) => tx.setDesc(0, good(f), 72, W),
  },
  {
    name: "a chain shorter than header + Ethernet header",
    error: "errTxShort",
    build: (f, tx) => tx.setDesc(0, good(f), 12 + 13),
  },
  {
    name: "a frame longer than 65535 bytes",
    error: "errTxOversize",
    build: (f, tx) => tx.setDesc(0, f.arena.alloc(70000), 12 + 65536),
  },
];

describe("hostile TX chains: counted, returned with len 0, never handed to the wire", () => {
  for (const c of TX_CASES) {
    it(c.name, () => {
      const f = deviceFixture({ features: c.features ?? NOT_IN_ORDER });
      const tx = f.rings[1]!;
      c.build(f, tx);
      tx.add(0);
      // A good chain after it still goes through.
      tx.setDesc(5, good(f), 72);
      tx.add(5);
      tx.publish();
      f.pass();
      const s = f.dev.stats();
      expect(s[c.error]).toBe(1);
      expect([s.txDropped, s.txPackets]).toEqual([1, 1]);
      expect(tx.usedIdx()).toBe(2);
      expect(tx.usedElem(0)).toEqual({ id: 0, len: 0 });
      expect(tx.usedElem(1)).toEqual({ id: 5, len: 0 });
      expect(f.wire().frames).toEqual([frame(60, 0x40)]);
      expect(f.client.status() & v.STATUS_DEVICE_NEEDS_RESET).toBe(0);
    });
  }

  // The fast path takes runs of one-descriptor chains (takeSimple): a bad chain inside such a run
  // ends it, is validated by the full walk, and the run after it is taken again.
  for (const c of TX_CASES) {
    it(`${c.name}, between good chains`, () => {
      const f = deviceFixture({ features: c.features ?? NOT_IN_ORDER });
      const tx = f.rings[1]!;
      for (const h of [4, 5, 6, 7]) tx.setDesc(h, good(f), 72);
      c.build(f, tx);
      for (const h of [4, 5, 0, 6, 7]) tx.add(h);
      tx.publish();
      f.pass();
      const s = f.dev.stats();
      expect(s[c.error]).toBe(1);
      expect([s.txDropped, s.txPackets]).toEqual([1, 4]);
      expect(tx.usedIdx()).toBe(5);
      expect([0, 1, 2, 3, 4].map((i) => tx.usedElem(i))).toEqual([4, 5, 0, 6, 7].map((id) => ({ id, len: 0 })));
      expect(f.wire().frames).toEqual([0, 1, 2, 3].map(() => frame(60, 0x40)));
      expect(f.client.status() & v.STATUS_DEVICE_NEEDS_RESET).toBe(0);
    });
  }

  it("accepts a chain exactly as long as the queue", () => {
    const f = deviceFixture({ queueSize: 4 });
    const tx = f.rings[1]!;
    const a = good(f);
    tx.setDesc(0, a, 12, N, 1);
    tx.setDesc(1, a + 12, 20, N, 2);
    tx.setDesc(2, a + 32, 20, N, 3);
    tx.setDesc(3, a + 52, 20);
    tx.add(0);
    tx.publish();
    f.pass();
    expect(f.wire().frames).toEqual([frame(60, 0x40)]);
  });
});

describe("hostile RX buffers", () => {
  it("returns a buffer with device-readable descriptors unused, and uses the next one", () => {
    const f = deviceFixture({ frames: [frame(60, 1)], features: NOT_IN_ORDER });
    const rx = f.rings[0]!;
    rx.setDesc(0, f.arena.alloc(2048), 2048);
    rx.setDesc(1, f.arena.alloc(2048), 2048, W);
    rx.add(0);
    rx.add(1);
    rx.publish();
    f.release(1);
    f.pass();
    expect(rx.usedElem(0)).toEqual({ id: 0, len: 0 });
    expect(rx.usedElem(1)).toEqual({ id: 1, len: 72 });
    expect(f.dev.stats().errRxReadable).toBe(1);
  });

  it("MRG_RXBUF: a bad chain in the middle of a frame returns every chain taken for it unused and drops the frame", () => {
    const f = deviceFixture({ frames: [frame(1000, 2), frame(60, 3)] });
    const rx = f.rings[0]!;
    rx.setDesc(0, f.arena.alloc(256), 256, W);
    rx.setDesc(1, f.arena.alloc(256), 256, W);
    rx.setDesc(2, f.arena.alloc(256), 256, 0, 0, 7); // high half set
    rx.setDesc(3, f.arena.alloc(2048), 2048, W);
    for (let i = 0; i < 4; i++) rx.add(i);
    rx.publish();
    f.release(2);
    f.pass();
    expect([0, 1, 2, 3].map((i) => rx.usedElem(i))).toEqual([
      { id: 0, len: 0 },
      { id: 1, len: 0 },
      { id: 2, len: 0 },
      { id: 3, len: 72 },
    ]);
    const s = f.dev.stats();
    expect([s.errAddrHigh, s.rxDropped, s.rxPackets]).toEqual([1, 1, 1]);
    expect(f.wire()).toMatchObject({ produced: 1, missed: 1 });
  });
});

describe("fatal ring errors set DEVICE_NEEDS_RESET (§2.1.2)", () => {
  function expectNeedsReset(f: Fixture, error: DeviceStatName): void {
    const s = f.dev.stats();
    expect(s[error]).toBe(1);
    expect(s.needsReset).toBe(1);
    expect(f.client.status() & v.STATUS_DEVICE_NEEDS_RESET).toBe(v.STATUS_DEVICE_NEEDS_RESET);
    expect(f.client.readIsr() & v.ISR_CONFIG).toBe(v.ISR_CONFIG);
  }

  it("a head index >= queue size", () => {
    const f = deviceFixture();
    const tx = f.rings[1]!;
    tx.add(8);
    tx.publish();
    f.pass();
    expectNeedsReset(f, "errHeadIndex");
    expect(tx.usedIdx()).toBe(0);
  });

  it("avail.idx more than a queue size ahead; processing stops until a reset, then resumes", () => {
    const f = deviceFixture({ frames: [frame(60)], repeat: 0 });
    const tx = f.rings[1]!;
    tx.setAvailIdx(9);
    f.pass();
    expectNeedsReset(f, "errAvailIdx");
    // Stopped: nothing moves any more, in either direction.
    const rx = f.rings[0]!;
    rx.setDesc(0, f.arena.alloc(2048), 2048, W);
    rx.add(0);
    rx.publish();
    f.release(5);
    f.pass(3);
    expect(rx.usedIdx()).toBe(0);
    // Reset and re-initialise: works again.
    for (const r of f.rings) {
      f.mem.u8.fill(0, r.avail, r.used + 8 * r.size + 6);
      r.availIdx = 0;
    }
    expect(f.client.negotiate(f.dev.offered)).toBe(true);
    f.client.setupQueue(0, rx);
    f.client.setupQueue(1, tx);
    rx.setDesc(0, f.arena.alloc(2048), 2048, W);
    rx.add(0);
    rx.publish();
    f.client.driverOk();
    f.pass();
    expect(rx.usedIdx()).toBe(1);
  });

  it("an RX avail.idx jump", () => {
    const f = deviceFixture({ frames: [frame(60)] });
    f.rings[0]!.setAvailIdx(0x8000);
    f.release(1);
    f.pass();
    expectNeedsReset(f, "errAvailIdx");
  });
});

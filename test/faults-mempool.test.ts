// Faults: the mbuf pool runs dry. The driver cannot refill its RX ring: it
// counts rx_nombuf (mbuf_alloc_failed) and retries on every burst; the device,
// finding no buffers, misses frames and counts them. As soon as mbufs come
// back, the ring is refilled and traffic resumes. Every frame is accounted
// for: generated = received + missed. Deterministic: the device runs on this
// thread, stepped by hand.
import { describe, expect, it } from "vitest";
import { releaseTestWire, readTestWire, testWireSpec } from "@tpdk/testing/vhost";
import { inThreadPort, testFrames } from "@tpdk/testing/e2e";

describe("mempool exhaustion", () => {
  it.each([
    ["mergeable", { mrgRxbuf: true }],
    ["non-mergeable, free list", { mrgRxbuf: false, inOrder: false }],
  ] as const)("rx_nombuf is counted, the device misses, traffic resumes when mbufs return (%s)", (_, pmd) => {
    let recordOffset = 0;
    const r = inThreadPort({
      pmd: { queueSize: 256, ...pmd },
      poolSize: 300, // 256 posted at start, 44 spare
      wire: (mem) => {
        const spec = testWireSpec(mem, "nombuf.wire", testFrames(100), { repeat: 0, gated: true });
        recordOffset = spec.recordOffset;
        return spec;
      },
    });
    const arr = new Uint32Array(64);
    const held: number[] = [];
    /** Bursts; the app keeps what it receives (or hands it straight back). */
    const receive = (keep = true): number => {
      let got = 0;
      for (let i = 0; i < 20; i++) {
        const n = r.rxq.rxBurst(arr, 64);
        for (let k = 0; k < n; k++) {
          if (keep) held.push(arr[k]!);
          else r.mbufs.free(arr[k]!);
        }
        got += n;
      }
      return got;
    };
    const nombuf = (): number => r.port.stats().rx_nombuf;

    // 1. 256 frames fill the ring; the app keeps them all: refills post the 44 spare, then fail.
    releaseTestWire(r.mem, recordOffset, 256);
    r.pass(4);
    expect(receive()).toBe(256);
    expect(nombuf()).toBeGreaterThan(0);
    expect(r.pool.available()).toBe(0);
    expect(r.rxq.posted).toBe(44);
    // 2. Only 44 buffers are posted: of 100 frames, 44 land, 56 are missed.
    releaseTestWire(r.mem, recordOffset, 100);
    r.pass(4);
    expect(receive()).toBe(44);
    expect(r.dev.stats().rxMissed).toBe(56);
    // 3. The pool is dry and the ring empty: every frame is missed; the driver keeps counting.
    const before = nombuf();
    releaseTestWire(r.mem, recordOffset, 50);
    r.pass(4);
    expect(receive()).toBe(0);
    expect(r.dev.stats().rxMissed).toBe(106);
    expect(nombuf()).toBeGreaterThan(before);
    expect(r.port.xstats().find((x) => x.name === "rx_q0_mbuf_alloc_failed")?.value).toBe(nombuf());
    // 4. The app hands its mbufs back: the next burst refills the ring, traffic resumes.
    for (const m of held.splice(0)) r.mbufs.free(m);
    expect(receive()).toBe(0); // refilled, nothing arrived yet
    releaseTestWire(r.mem, recordOffset, 200);
    r.pass(8);
    expect(receive(false)).toBe(200);
    expect(r.dev.stats().rxMissed).toBe(106); // nothing missed once the ring was refilled
    // Conservation: generated = received + missed, at the wire, the device and the driver.
    const w = readTestWire(r.mem, recordOffset);
    expect(w.produced + w.missed).toBe(606);
    expect(w.produced).toBe(500);
    expect(r.dev.stats().rxPackets).toBe(500);
    expect(r.port.stats().ipackets).toBe(500);
    expect(r.port.stats().ierrors).toBe(0);
    for (const m of held) r.mbufs.free(m);
    r.close();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

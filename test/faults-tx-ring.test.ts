// Faults: the TX ring is full (the device does not keep up). txBurst takes
// what fits and counts ring_full; the caller keeps the rest (l2fwd frees them
// and counts them dropped). Once the device consumes, sending resumes; every
// packet the driver took reaches the wire.
import { describe, expect, it } from "vitest";
import { readTestWire, testWireSpec } from "@tpdk/testing/vhost";
import { inThreadPort, testFrames } from "@tpdk/testing/e2e";
import { lastJson, runL2fwd } from "@tpdk/testing/e2e";

describe("TX ring full (in-thread device, stepped by hand)", () => {
  it.each([
    ["push", 64],
    ["indirect", 64],
    ["chained", 32], // a header descriptor + one per segment
  ] as const)("tx_mode=%s: takes what fits (%i), counts ring_full, resumes once the device consumes", (txMode, fits) => {
    let recordOffset = 0;
    const r = inThreadPort({
      pmd: { queueSize: 64, txMode },
      wire: (mem) => {
        const spec = testWireSpec(mem, "txfull.wire", [], { recordBytes: 1 << 20 });
        recordOffset = spec.recordOffset;
        return spec;
      },
    });
    const frames = testFrames(64);
    const pkts = new Uint32Array(64);
    let offered = 0;
    let taken = 0;
    let kept = 0;
    const sendBurst = (n: number): number => {
      for (let i = 0; i < n; i++) {
        const m = r.pool.alloc();
        const f = frames[(offered + i) % frames.length]!;
        r.mem.u8.set(f, r.mbufs.dataAddr(m));
        r.mbufs.setDataLen(m, f.length);
        r.mbufs.setPktLen(m, f.length);
        pkts[i] = m;
      }
      offered += n;
      const k = r.txq.txBurst(pkts, n);
      taken += k;
      // The caller still owns what was not taken: here it frees it (l2fwd counts it dropped).
      for (let i = k; i < n; i++) r.mbufs.free(pkts[i]!);
      kept += n - k;
      return k;
    };
    const ringFull = (): number => r.port.xstats().find((x) => x.name === "tx_q0_ring_full")!.value;

    expect(sendBurst(48)).toBe(Math.min(48, fits));
    expect(sendBurst(48)).toBe(Math.max(0, fits - 48));
    expect(ringFull()).toBeGreaterThan(0);
    expect(sendBurst(16)).toBe(0); // still full: the device has not run
    const full = ringFull();
    r.pass(4); // the device consumes everything made available
    expect(readTestWire(r.mem, recordOffset).consumed).toBe(taken);
    expect(sendBurst(16)).toBe(16);
    expect(ringFull()).toBe(full);
    r.pass(4);
    // Conservation: offered = taken + kept; taken = opackets = device tx = wire consumed.
    expect(offered).toBe(taken + kept);
    expect(r.port.stats().opackets).toBe(taken);
    expect(r.dev.stats().txPackets).toBe(taken);
    const w = readTestWire(r.mem, recordOffset);
    expect(w.consumed).toBe(taken);
    expect(w.frames.slice(0, 3)).toEqual(frames.slice(0, 3));
    r.txq.cleanup();
    r.close();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

describe("l2fwd with a TX ring smaller than its burst", () => {
  it("counts tx_ring_full and dropped; received = sent + dropped; sent = delivered", async () => {
    // queue_size=8 on port 1: a 32-frame buffer never fits; the lossless generator
    // fills port 0's RX ring before the lcore starts, so the first bursts are full.
    const count = 20_000;
    const r = await runL2fwd([
      "-l", "0",
      "--vdev", `virtio0,wire=gen,count=${count},size=64:1518`,
      "--vdev", "virtio1,wire=sink,check=1,queue_size=8",
      "--", "-p", "0x3", "-q", "2", "-T", "0", "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx).toBe(count); // lossless: nothing missed
    expect(p0.missed).toBe(0);
    expect(p1.tx_ring_full).toBeGreaterThan(0);
    expect(p1.dropped).toBeGreaterThan(0);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    expect(p1.tx).toBe(p1.wire_delivered);
    expect(r.stdout).toContain("Bye...");
  });
});

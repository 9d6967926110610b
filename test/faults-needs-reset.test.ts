// Faults: our own device puts itself in DEVICE_NEEDS_RESET after start (a
// driver-side ring it cannot trust: avail.idx more than a ring ahead). The
// port notices it off the data path (checkDevice after the configuration
// change notification), reports link down, and a stop/start recovers.
import { describe, expect, it } from "vitest";
import { AVAIL_IDX, STATUS_DEVICE_NEEDS_RESET, splitRingLayout } from "@tpdk/virtio";
import { testWireSpec } from "@tpdk/testing/vhost";
import { inThreadPort } from "@tpdk/testing/e2e";

describe("DEVICE_NEEDS_RESET from the real device (in-thread, stepped by hand)", () => {
  it("is noticed by checkDevice: link down, deviceFault names it, xstat counted; stop/start recovers; no mbuf lost", () => {
    // Stepped by hand, the device reads its clock (and beats) too rarely for the heartbeat watch: not what this tests.
    const r = inThreadPort({ pmd: { queueSize: 64, heartbeatTimeoutMs: 60_000 }, wire: (mem) => testWireSpec(mem, "nr.wire", [], { recordBytes: 1 << 16 }) });
    r.pass(4);
    expect(r.port.checkDevice()).toBe(true);
    // The TX ring's avail.idx, a whole ring and more ahead of what the device has seen: a fatal ring error.
    const zone = r.mem.lookup("vpmd0.txq0.64")!.offset;
    const avail = zone + 512 + splitRingLayout(64).avail;
    Atomics.store(r.mem.u16, (avail + AVAIL_IDX) >>> 1, 200);
    r.pass(4);
    expect(r.dev.status() & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
    expect(r.port.checkDevice()).toBe(false);
    expect(r.port.needsReset).toBe(true);
    expect(r.port.deviceFault).toMatch(/device needs reset/);
    expect(r.port.linkStatus().up).toBe(false);
    expect(r.port.xstats().find((x) => x.name === "device_needs_reset")!.value).toBe(1);
    r.port.stop(10); // the device consumes nothing more: no point waiting for TX to drain
    expect(r.pool.available()).toBe(r.pool.size);
    r.port.start();
    r.pass(4);
    expect(r.dev.status() & STATUS_DEVICE_NEEDS_RESET).toBe(0);
    const ok = r.port.checkDevice();
    expect(r.port.deviceFault).toBeNull();
    expect(ok).toBe(true);
    expect(r.port.linkStatus().up).toBe(true);
    r.close();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});

import * as v from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { type Fixture, deviceFixture, frame } from "@tpdk/testing/vhost";

const OFFERED = deviceFixture({ noStart: true }).dev.offered;
const NO_EVENT_IDX = v.withFeature(OFFERED, v.VIRTIO_F_EVENT_IDX, false);

function interrupts(f: Fixture, q: number): number {
  return Atomics.load(f.mem.i32, (f.dev.transportOffset + v.interruptWordOffset(q)) >>> 2);
}

/** Make `n` single-descriptor TX chains available (heads from `start`). */
function transmit(f: Fixture, n: number, start = 0): void {
  const tx = f.rings[1]!;
  for (let i = 0; i < n; i++) {
    const a = f.arena.alloc(72);
    tx.setDesc((start + i) % tx.size, a, 72);
    tx.add((start + i) % tx.size);
  }
  tx.publish();
}

describe("available-buffer notification suppression (§2.7.10)", () => {
  it("sets NO_NOTIFY while polling and clears it before sleeping (no EVENT_IDX)", () => {
    const f = deviceFixture({ features: NO_EVENT_IDX });
    const tx = f.rings[1]!;
    expect(tx.usedFlags()).toBe(v.VRING_USED_F_NO_NOTIFY);
    f.loop.setNotify(true);
    expect(tx.usedFlags()).toBe(0);
    f.loop.setNotify(false);
    expect(tx.usedFlags()).toBe(v.VRING_USED_F_NO_NOTIFY);
    // RX queues never ask for kicks: the device does not wait for RX buffers.
    f.loop.setNotify(true);
    expect(f.rings[0]!.usedFlags()).toBe(v.VRING_USED_F_NO_NOTIFY);
  });

  it("with EVENT_IDX leaves used.flags 0 and asks for the next entry through avail_event", () => {
    const f = deviceFixture({});
    const tx = f.rings[1]!;
    transmit(f, 3);
    f.pass();
    expect(tx.usedIdx()).toBe(3);
    expect(tx.usedFlags()).toBe(0);
    f.loop.setNotify(true);
    expect(tx.availEvent()).toBe(3);
    // The driver's test: kick iff avail_event lies in [old, new).
    expect(v.vringNeedEvent(tx.availEvent(), 4, 3)).toBe(true);
  });
});

describe("used-buffer notifications (§2.7.7, §4.1.5.4)", () => {
  it("interrupts after each batch unless NO_INTERRUPT is set (no EVENT_IDX)", () => {
    const f = deviceFixture({ features: NO_EVENT_IDX });
    const tx = f.rings[1]!;
    f.client.readIsr();
    transmit(f, 2);
    f.pass();
    expect(interrupts(f, 1)).toBe(1);
    expect(f.dev.stats().interrupts).toBe(1);
    expect(f.client.readIsr()).toBe(v.ISR_QUEUE);
    tx.setAvailFlags(v.VRING_AVAIL_F_NO_INTERRUPT);
    transmit(f, 2, 2);
    f.pass();
    expect(tx.usedIdx()).toBe(4);
    expect(interrupts(f, 1)).toBe(1);
    expect(f.client.readIsr()).toBe(0);
  });

  it("with EVENT_IDX interrupts only when used.idx passes used_event", () => {
    const f = deviceFixture({ queueSize: 64, device: { burst: 4 } });
    const tx = f.rings[1]!;
    tx.setAvailFlags(v.VRING_AVAIL_F_NO_INTERRUPT); // must be ignored under EVENT_IDX
    tx.setUsedEvent(5); // "tell me when entry 5 is used"
    transmit(f, 12);
    f.pass(); // used 0..3: no
    expect(interrupts(f, 1)).toBe(0);
    f.pass(); // used 4..7: crosses 5
    expect(interrupts(f, 1)).toBe(1);
    f.pass(); // used 8..11: no
    expect(interrupts(f, 1)).toBe(1);
    tx.setUsedEvent(12);
    transmit(f, 1, 12);
    f.pass(); // used 12
    expect(interrupts(f, 1)).toBe(2);
  });

  it("interrupts RX too, and wakes a waiter on the queue's interrupt word", () => {
    const f = deviceFixture({ frames: [frame(60)], features: NO_EVENT_IDX });
    const rx = f.rings[0]!;
    rx.setDesc(0, f.arena.alloc(2048), 2048, v.VRING_DESC_F_WRITE);
    rx.add(0);
    rx.publish();
    f.release(1);
    f.pass();
    expect(interrupts(f, 0)).toBe(1);
  });
});

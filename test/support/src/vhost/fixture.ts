import { Memory } from "@tpdk/eal";
import { type Features, STATUS_DRIVER_OK, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ, ctrlQueueIndex, hasFeature } from "@tpdk/virtio";
import type { DeviceLoop } from "@tpdk/vhost";
import { type TestWireSpec, readTestWire, releaseTestWire, testWireSpec } from "./test-wire.js";
import { type DeviceOptions, Vhost } from "@tpdk/vhost";
import type { VhostDevice } from "@tpdk/vhost";
import type { Wire } from "@tpdk/vhost";
import { Arena, DriverRing } from "./driver-ring.js";
import { TrapClient } from "./trap-client.js";

export interface FixtureOptions {
  /** Frames the test wire produces (RX direction). */
  frames?: Uint8Array[];
  repeat?: number;
  perReady?: number;
  /** Frames are announced only once released with f.release(n) (default true). */
  gated?: boolean;
  /** Extra device options (name and wire are filled in). */
  device?: Partial<DeviceOptions>;
  /** Ring size for every queue (default 8). */
  queueSize?: number;
  /** Driver features; default: everything offered. */
  features?: Features;
  /** Stop after negotiation (no queues, no DRIVER_OK). */
  noStart?: boolean;
  /** Replace the wire (not the test wire). */
  wire?: Wire;
  memBytes?: number;
  arenaBytes?: number;
}

/**
 * One device on an in-thread loop with a test wire, driven from the test as a
 * driver would: rings built by hand, traps serviced by stepping the loop.
 */
export interface Fixture {
  mem: Memory;
  vhost: Vhost;
  dev: VhostDevice;
  loop: DeviceLoop;
  client: TrapClient;
  /**
   * rings[q] for each data queue (2 per pair). Only the queues the
   * negotiation leaves are set up: every pair with MQ, else pair 0.
   */
  rings: DriverRing[];
  /** The control queue's ring (set up when CTRL_VQ is negotiated), and its virtqueue index. */
  ctrl: DriverRing;
  ctrlIndex: number;
  arena: Arena;
  wireSpec: TestWireSpec;
  /** Step the device loop n times; returns total work. */
  pass(n?: number): number;
  /** Let the (gated) test wire announce n more frames. */
  release(n: number): void;
  /** What the test wire recorded. */
  wire(): ReturnType<typeof readTestWire>;
}

export function deviceFixture(o: FixtureOptions = {}): Fixture {
  const mem = Memory.create(o.memBytes ?? 8 << 20);
  const vhost = new Vhost(mem);
  const wireSpec = testWireSpec(mem, "test.wire", o.frames ?? [], {
    repeat: o.repeat ?? 1,
    gated: o.gated ?? true,
    ...(o.perReady !== undefined ? { perReady: o.perReady } : {}),
  });
  const dev = vhost.addDevice({ maxQueueSize: 256, ...o.device, name: o.device?.name ?? "virtio0", wire: wireSpec });
  const loop = vhost.createLoop(o.wire ? { [dev.name]: o.wire } : {});
  const pass = (n = 1): number => {
    let w = 0;
    for (let i = 0; i < n; i++) w += loop.pass();
    return w;
  };
  const client = new TrapClient(mem, dev.transportOffset, () => loop.pass());
  const size = o.queueSize ?? 8;
  const rings: DriverRing[] = [];
  for (let q = 0; q < 2 * dev.queuePairs; q++) rings.push(new DriverRing(mem, `test.ring${q}`, size));
  const ctrl = new DriverRing(mem, "test.ctrlring", 16);
  const features = o.features ?? dev.offered;
  const mq = hasFeature(features, VIRTIO_NET_F_MQ);
  const ctrlIndex = ctrlQueueIndex(dev.queuePairs, mq);
  const arena = new Arena(mem, "test.arena", o.arenaBytes ?? 1 << 20);
  const f: Fixture = {
    mem, vhost, dev, loop, client, rings, ctrl, ctrlIndex, arena, wireSpec, pass,
    release: (n) => releaseTestWire(mem, wireSpec.recordOffset, n),
    wire: () => readTestWire(mem, wireSpec.recordOffset),
  };
  if (!o.noStart) {
    if (!client.negotiate(features)) throw new Error("fixture: FEATURES_OK refused");
    const nData = mq ? rings.length : 2;
    for (let q = 0; q < nData; q++) client.setupQueue(q, rings[q]!);
    if (hasFeature(features, VIRTIO_NET_F_CTRL_VQ)) client.setupQueue(ctrlIndex, ctrl);
    client.driverOk();
    if ((client.status() & STATUS_DRIVER_OK) === 0) throw new Error("fixture: DRIVER_OK refused");
  }
  return f;
}

/** A frame of `len` bytes whose bytes are (seed + i) & 0xff. */
export function frame(len: number, seed = 0): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (seed + i) & 0xff;
  return f;
}

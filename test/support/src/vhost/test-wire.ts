import type { Memory } from "@tpdk/eal";
import { TpdkError } from "@tpdk/eal";
import { type RegisteredWireSpec, type Wire, type WireStats, registerWireKind } from "@tpdk/vhost";

/** The test wire's registered type, and the module the device thread imports to register it (the compiled file: same path from src/ and dist/). */
export const TEST_WIRE_TYPE = "test";
const TEST_WIRE_MODULE = new URL("../../dist/vhost/test-wire.js", import.meta.url).href;

/**
 * A wire for tests: produces a fixed list of frames (in order, `repeat`
 * times, 0 = forever) and records the frames the driver transmits into a zone
 * of shared memory so the test can read them from any thread.
 *
 * Record zone layout (u32 words at byte offsets; written by the device thread):
 *   +0  frames recorded (published last, with Atomics.store)
 *   +4  bytes of records used
 *   +8  frames consumed but not recorded (zone full)
 *   +12 frames produced
 *   +16 frames dropped (missed)
 *   +20 frames consumed
 *   +24 frames still to announce (0xffffffff = unlimited)
 *   +28 gate (gated wires only): frames released so far by the test (releaseTestWire)
 *   +32 records: { len u32, bytes, padded to 4 }
 */
export interface TestWireSpec extends RegisteredWireSpec {
  readonly type: typeof TEST_WIRE_TYPE;
  /** Frames to produce, in order. */
  readonly frames: readonly Uint8Array[];
  /** How many times to go through `frames` (default 1; 0 = forever). */
  readonly repeat?: number;
  /** Announce at most this many frames per ready() call (default: all that remain). */
  readonly perReady?: number;
  /** Announce only frames the test released with releaseTestWire (default false). */
  readonly gated?: boolean;
  /** Fault injection: consume() throws once this many frames were consumed. */
  readonly failAfter?: number;
  /** Zone for recording consumed frames (see testWireZone). */
  readonly recordOffset: number;
  readonly recordBytes: number;
}

const R_COUNT = 0;
const R_USED = 4;
const R_OVERFLOW = 8;
const R_PRODUCED = 12;
const R_MISSED = 16;
const R_CONSUMED = 20;
const R_REMAINING = 24;
const R_GATE = 28;
const R_DATA = 32;
const UNLIMITED = 0xffffffff;

/** Reserve a record zone and build a spec (main thread, cold). */
export function testWireSpec(
  mem: Memory,
  zoneName: string,
  frames: readonly Uint8Array[],
  opts: { repeat?: number; perReady?: number; recordBytes?: number; gated?: boolean; failAfter?: number } = {},
): TestWireSpec {
  const recordBytes = opts.recordBytes ?? 1 << 16;
  const zone = mem.reserve(zoneName, R_DATA + recordBytes);
  const spec: TestWireSpec = {
    kind: "registered",
    type: TEST_WIRE_TYPE,
    module: TEST_WIRE_MODULE,
    frames: frames.map((f) => Uint8Array.from(f)),
    repeat: opts.repeat ?? 1,
    recordOffset: zone.offset,
    recordBytes,
    gated: opts.gated ?? false,
    ...(opts.perReady !== undefined ? { perReady: opts.perReady } : {}),
    ...(opts.failAfter !== undefined ? { failAfter: opts.failAfter } : {}),
  };
  return spec;
}

/** Let a gated test wire announce `n` more frames (any thread). */
export function releaseTestWire(mem: Memory, recordOffset: number, n: number): void {
  // Pairs with the Atomics.load in TestWire.ready().
  Atomics.add(mem.u32, (recordOffset + R_GATE) >>> 2, n);
}

export interface TestWireRecord {
  produced: number;
  missed: number;
  consumed: number;
  overflow: number;
  /** Frames still to announce (Infinity when unlimited). */
  remaining: number;
  /** The consumed frames that fit the record zone, in order (copies). */
  frames: Uint8Array[];
}

/** Read what a test wire did (any thread, cold). */
export function readTestWire(mem: Memory, recordOffset: number): TestWireRecord {
  const w = recordOffset >>> 2;
  const count = Atomics.load(mem.u32, w + (R_COUNT >>> 2));
  const frames: Uint8Array[] = [];
  let p = recordOffset + R_DATA;
  for (let i = 0; i < count; i++) {
    const len = mem.u32[p >>> 2]!;
    frames.push(mem.u8.slice(p + 4, p + 4 + len));
    p += 4 + ((len + 3) & ~3);
  }
  const remaining = mem.u32[w + (R_REMAINING >>> 2)]!;
  return {
    produced: mem.u32[w + (R_PRODUCED >>> 2)]!,
    missed: mem.u32[w + (R_MISSED >>> 2)]!,
    consumed: mem.u32[w + (R_CONSUMED >>> 2)]!,
    overflow: mem.u32[w + (R_OVERFLOW >>> 2)]!,
    remaining: remaining === UNLIMITED ? Infinity : remaining,
    frames,
  };
}

export class TestWire implements Wire {
  readonly kind = "test";
  readonly lossless = false;
  readonly needsClock = false;
  private readonly frames: Uint8Array[];
  private readonly u32: Uint32Array;
  private readonly u8: Uint8Array;
  private readonly rec: number;
  private readonly recEnd: number;
  private readonly perReady: number;
  private readonly gated: boolean;
  private readonly failAfter: number;
  private consumed = 0;
  private next = 0;
  /** Frames produced or dropped so far. */
  private taken = 0;
  /** Frames still to announce; -1 = unlimited. */
  private remaining: number;

  constructor(spec: TestWireSpec, mem: Memory) {
    if (spec.frames.length === 0 && spec.repeat === 0) throw new TpdkError("EINVAL", "test wire: repeat=0 needs frames");
    this.frames = spec.frames.map((f) => Uint8Array.from(f));
    this.u32 = mem.u32;
    this.u8 = mem.u8;
    this.rec = spec.recordOffset;
    this.recEnd = spec.recordOffset + R_DATA + spec.recordBytes;
    this.perReady = spec.perReady ?? 0x7fffffff;
    this.gated = spec.gated ?? false;
    this.failAfter = spec.failAfter ?? Infinity;
    const repeat = spec.repeat ?? 1;
    this.remaining = repeat === 0 ? -1 : repeat * this.frames.length;
    this.u32[(this.rec + R_REMAINING) >>> 2] = this.remaining < 0 ? UNLIMITED : this.remaining;
  }

  ready(): number {
    const r = this.remaining;
    if (r === 0) return 0;
    let n = r < 0 || r > this.perReady ? this.perReady : r;
    if (this.gated) {
      const open = Atomics.load(this.u32, (this.rec + R_GATE) >>> 2) - this.taken;
      if (open < n) n = open > 0 ? open : 0;
    }
    return n;
  }

  frameLength(): number {
    return this.frames[this.next]!.length;
  }

  peek(u8: Uint8Array, addr: number, max: number): number {
    const f = this.frames[this.next]!;
    const n = f.length < max ? f.length : max;
    for (let k = 0; k < n; k++) u8[addr + k] = f[k]!;
    return n;
  }

  produce(u8: Uint8Array, addr: number): void {
    u8.set(this.frames[this.next]!, addr);
    this.bump(R_PRODUCED);
    this.advance();
  }

  drop(): void {
    this.bump(R_MISSED);
    this.advance();
  }

  consume(u8: Uint8Array, addr: number, len: number): void {
    if (this.consumed >= this.failAfter) throw new TpdkError("EIO", "test wire: injected consume failure");
    this.consumed++;
    this.bump(R_CONSUMED);
    const used = this.u32[(this.rec + R_USED) >>> 2]!;
    const p = this.rec + R_DATA + used;
    const need = 4 + ((len + 3) & ~3);
    if (p + need > this.recEnd) {
      this.bump(R_OVERFLOW);
      return;
    }
    this.u32[p >>> 2] = len;
    this.u8.copyWithin(p + 4, addr, addr + len);
    this.u32[(this.rec + R_USED) >>> 2] = used + need;
    // Publishes the record just written; pairs with Atomics.load in readTestWire.
    Atomics.store(this.u32, (this.rec + R_COUNT) >>> 2, this.u32[(this.rec + R_COUNT) >>> 2]! + 1);
  }

  exhausted(): boolean {
    return this.remaining === 0;
  }

  flush(): void {}

  close(): void {}

  private advance(): void {
    this.taken++;
    this.next = this.next + 1 === this.frames.length ? 0 : this.next + 1;
    if (this.remaining > 0) {
      this.remaining--;
      this.u32[(this.rec + R_REMAINING) >>> 2] = this.remaining;
    }
  }

  private bump(off: number): void {
    const i = (this.rec + off) >>> 2;
    this.u32[i] = this.u32[i]! + 1;
  }
}

/** The test wire's counts in the shape of a real wire's statistics. */
function testWireStats(mem: Memory, spec: TestWireSpec): WireStats {
  const r = readTestWire(mem, spec.recordOffset);
  return {
    kind: "none",
    generated: r.produced + r.missed,
    generatedBytes: 0,
    missed: r.missed,
    received: r.consumed,
    receivedBytes: 0,
    lost: 0,
    reordered: 0,
    duplicated: 0,
    badChecksum: 0,
    foreign: 0,
    writeErrors: 0,
    lastWriteError: null,
    untracked: 0,
    exhausted: r.remaining === 0,
    overflow: 0,
    datagramsIn: 0,
    datagramsOut: 0,
    badVxlan: 0,
    badLength: 0,
    sendDropped: 0,
  };
}

// Every thread that imports this module (the test's, and the device thread
// through TestWireSpec.module) can build and read test wires.
registerWireKind<TestWireSpec>(TEST_WIRE_TYPE, {
  create: (spec, mem) => new TestWire(spec, mem),
  stats: (mem, spec) => testWireStats(mem, spec),
});

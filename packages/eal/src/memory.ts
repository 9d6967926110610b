import { TpdkError } from "./errors.js";

/**
 * EAL memory: one SharedArrayBuffer that every thread maps, carved into named
 * zones (rte_memzone). A byte offset into the buffer is the "bus address" that
 * virtio descriptors and mbufs carry, so the device thread and the driver see
 * the same numbers. Offset 0 is never a valid zone address: 0 serves as null.
 *
 * Layout of the header (first HEADER_BYTES bytes), as Int32 words:
 *   [0] magic   [1] size in bytes   [2] bump pointer   [3] zone count
 *   [4] allocation lock (0 free, 1 held)
 *   [16..31] control words for the EAL (stop flag and friends, see CONTROL_*)
 *   zone table from ZONE_TABLE_OFF: ZONE_MAX entries of ZONE_ENTRY_BYTES
 *     { name: 48 bytes UTF-8 NUL-padded, offset u32, length u32, align u32, pad }
 *
 * Reserving is a cold path (it takes a lock word with Atomics so any thread
 * may do it); lookups read the table and are cold too: look zones up once,
 * keep the offset.
 */

const MAGIC = 0x7470646b; // "tpdk"
const W_MAGIC = 0;
const W_SIZE = 1;
const W_BUMP = 2;
const W_COUNT = 3;
const W_LOCK = 4;
/** First Int32 word index reserved for EAL control words (stop flag, ...). */
export const CONTROL_WORD_BASE = 16;
export const CONTROL_WORDS = 16;
const ZONE_TABLE_OFF = 256;
const ZONE_NAME_BYTES = 48;
const ZONE_ENTRY_BYTES = 64;
export const ZONE_MAX = 255;
const HEADER_BYTES = ZONE_TABLE_OFF + ZONE_MAX * ZONE_ENTRY_BYTES; // 16576
export const MEMORY_MAX_BYTES = 4095 * 1024 * 1024; // bus addresses stay below 2^32

/** Node's WebAssembly global, the one constructor used here (lib ES2023 declares no WebAssembly). */
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { readonly buffer: SharedArrayBuffer };
};
/** WebAssembly's page: a shared WebAssembly.Memory is a whole number of them. */
const WASM_PAGE_BYTES = 65536;

/**
 * A SharedArrayBuffer whose first byte starts a page, so that every offset the
 * EAL, the mempools and the drivers align to 64 is a cache line of the CPU's
 * too. `new SharedArrayBuffer(n)` is not: V8 takes its backing store from
 * calloc, and glibc hands a large block out 16 bytes past the start of its
 * own mapping (a 256 MB buffer is a 256 MB + 4 KB mapping), so each offset
 * that is 0 mod 64 is 16 mod 64 in the address space and a frame's first 64
 * bytes span two lines (bench/notes/pipeline.md, "Session 21: pipeline"). A shared
 * WebAssembly.Memory's buffer is a SharedArrayBuffer V8 maps by itself, page
 * by page: exactly its size, at a page, between guard reservations. Plain
 * JavaScript, so memory without the native addon is aligned as well. Only
 * where that cannot be had (address space for the guard reservations) the
 * plain SharedArrayBuffer.
 */
function allocateLineAligned(sizeBytes: number): SharedArrayBuffer {
  const pages = Math.ceil(sizeBytes / WASM_PAGE_BYTES);
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
  } catch {
    // The guard reservation was refused: the unaligned buffer below still works.
  }
  const size = sizeBytes & ~4095;
  try {
    return new SharedArrayBuffer(size);
  } catch (e) {
    throw new TpdkError("ENOMEM", `cannot allocate ${size >>> 20} MB of shared memory; lower -m`, { cause: e });
  }
}

export interface Zone {
  readonly name: string;
  /** Byte offset (bus address) of the zone's first byte. */
  readonly offset: number;
  readonly length: number;
}

export class Memory {
  readonly sab: SharedArrayBuffer;
  readonly size: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.size = sab.byteLength;
    this.u8 = new Uint8Array(sab);
    this.u16 = new Uint16Array(sab, 0, sab.byteLength >>> 1);
    this.u32 = new Uint32Array(sab, 0, sab.byteLength >>> 2);
    this.i32 = new Int32Array(sab, 0, sab.byteLength >>> 2);
    this.f64 = new Float64Array(sab, 0, sab.byteLength >>> 3);
  }

  /**
   * Create the process's shared memory (main thread, once), page-aligned
   * (allocateLineAligned): its size rounded up to 64 KB.
   */
  static create(sizeBytes: number): Memory {
    if (!Number.isInteger(sizeBytes) || sizeBytes < 1 << 20 || sizeBytes > MEMORY_MAX_BYTES) {
      throw new TpdkError("EINVAL", `memory size ${sizeBytes} out of range (1 MB .. 4095 MB)`);
    }
    return Memory.format(allocateLineAligned(sizeBytes));
  }

  /**
   * Create the process's shared memory over a buffer made elsewhere (a memfd
   * mapped with @tpdk/native's mmapShared): formats the header as create()
   * does, overwriting what the buffer held. Size: its byteLength, a multiple
   * of 4096 in 1 MB .. 4095 MB.
   */
  static createOver(sab: SharedArrayBuffer): Memory {
    const size = sab.byteLength;
    if (size < 1 << 20 || size > MEMORY_MAX_BYTES || size % 4096 !== 0) {
      throw new TpdkError("EINVAL", `memory size ${size} must be a multiple of 4096 in 1 MB .. 4095 MB`);
    }
    return Memory.format(sab);
  }

  private static format(sab: SharedArrayBuffer): Memory {
    const m = new Memory(sab);
    m.u8.fill(0, 0, HEADER_BYTES);
    m.i32[W_SIZE] = m.size;
    m.i32[W_BUMP] = align(HEADER_BYTES, 4096);
    m.i32[W_COUNT] = 0;
    Atomics.store(m.i32, W_MAGIC, MAGIC);
    return m;
  }

  /** Map memory created by another thread (pass `sab` through workerData). */
  static attach(sab: SharedArrayBuffer): Memory {
    const m = new Memory(sab);
    if (Atomics.load(m.i32, W_MAGIC) !== MAGIC) {
      throw new TpdkError("EINVAL", "shared buffer is not tpdk EAL memory");
    }
    return m;
  }

  /** Bytes not yet reserved. */
  get free(): number {
    return this.size - Atomics.load(this.i32, W_BUMP);
  }

  /**
   * Reserve a named zone, zero-filled, aligned to `alignment` (a power of two,
   * default 64: one cache line). Throws EEXIST, ENOMEM, EINVAL.
   */
  reserve(name: string, length: number, alignment = 64): Zone {
    if (!Number.isInteger(length) || length <= 0) throw new TpdkError("EINVAL", `zone "${name}": bad length ${length}`);
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new TpdkError("EINVAL", `zone "${name}": alignment ${alignment} is not a power of two`);
    }
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length === 0 || nameBytes.length >= ZONE_NAME_BYTES) {
      throw new TpdkError("EINVAL", `zone name "${name}" must be 1..${ZONE_NAME_BYTES - 1} bytes`);
    }
    this.lock();
    try {
      if (this.findZone(name) >= 0) throw new TpdkError("EEXIST", `zone "${name}" already exists`);
      const count = this.i32[W_COUNT]!;
      if (count >= ZONE_MAX) throw new TpdkError("ENOSPC", `too many zones (max ${ZONE_MAX})`);
      const offset = align(this.i32[W_BUMP]!, Math.max(alignment, 8));
      if (offset + length > this.size) {
        throw new TpdkError(
          "ENOMEM",
          `zone "${name}" needs ${length} bytes but only ${this.size - offset} are free; raise -m (now ${this.size >>> 20} MB)`,
        );
      }
      const e = ZONE_TABLE_OFF + count * ZONE_ENTRY_BYTES;
      this.u8.fill(0, e, e + ZONE_ENTRY_BYTES);
      this.u8.set(nameBytes, e);
      this.u32[(e + ZONE_NAME_BYTES) >>> 2] = offset;
      this.u32[(e + ZONE_NAME_BYTES + 4) >>> 2] = length;
      this.u32[(e + ZONE_NAME_BYTES + 8) >>> 2] = alignment;
      this.u8.fill(0, offset, offset + length);
      this.i32[W_BUMP] = offset + length;
      this.i32[W_COUNT] = count + 1;
      return { name, offset, length };
    } finally {
      this.unlock();
    }
  }

  /** Find a zone by name (any thread). */
  lookup(name: string): Zone | undefined {
    const i = this.findZone(name);
    if (i < 0) return undefined;
    const e = ZONE_TABLE_OFF + i * ZONE_ENTRY_BYTES;
    return { name, offset: this.u32[(e + ZONE_NAME_BYTES) >>> 2]!, length: this.u32[(e + ZONE_NAME_BYTES + 4) >>> 2]! };
  }

  /** Like lookup, but throws ENOENT. */
  zone(name: string): Zone {
    const z = this.lookup(name);
    if (!z) throw new TpdkError("ENOENT", `no memory zone named "${name}"`);
    return z;
  }

  /** All zones, in reservation order (for diagnostics). */
  zones(): Zone[] {
    const out: Zone[] = [];
    const count = Atomics.load(this.i32, W_COUNT);
    for (let i = 0; i < count; i++) {
      const e = ZONE_TABLE_OFF + i * ZONE_ENTRY_BYTES;
      out.push({ name: this.zoneName(e), offset: this.u32[(e + ZONE_NAME_BYTES) >>> 2]!, length: this.u32[(e + ZONE_NAME_BYTES + 4) >>> 2]! });
    }
    return out;
  }

  /** True when [addr, addr+len) lies inside the buffer. The check untrusted addresses go through. */
  contains(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  private findZone(name: string): number {
    const count = Atomics.load(this.i32, W_COUNT);
    for (let i = 0; i < count; i++) {
      if (this.zoneName(ZONE_TABLE_OFF + i * ZONE_ENTRY_BYTES) === name) return i;
    }
    return -1;
  }

  private zoneName(e: number): string {
    let end = e;
    while (end < e + ZONE_NAME_BYTES && this.u8[end] !== 0) end++;
    return new TextDecoder().decode(this.u8.slice(e, end));
  }

  private lock(): void {
    // Cold path: spin with a short wait; holders never block inside.
    while (Atomics.compareExchange(this.i32, W_LOCK, 0, 1) !== 0) Atomics.wait(this.i32, W_LOCK, 1, 1);
  }

  private unlock(): void {
    Atomics.store(this.i32, W_LOCK, 0);
    Atomics.notify(this.i32, W_LOCK, 1);
  }
}

export function align(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

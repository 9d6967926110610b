import {
  ADDR_AVAIL, ADDR_BYTES, ADDR_DESC, ADDR_FLAGS, ADDR_INDEX, ADDR_LOG, ADDR_USED,
  FLAG_VERSION_MASK, HEADER_BYTES, MAX_PAYLOAD_BYTES, MAX_REGIONS, MEM_NREGIONS, MEM_REGIONS,
  REGION_BYTES, REGION_GUEST_PHYS, REGION_MMAP_OFFSET, REGION_SIZE, REGION_USER_ADDR,
  STATE_BYTES, STATE_INDEX, STATE_NUM, U64_BYTES, VHOST_USER_VERSION,
} from "./protocol.js";

/**
 * Encoding and decoding of vhost-user messages (control path: objects are
 * fine here). u64 fields are numbers; every value we put in one fits in 53
 * bits (addresses below 2^48, feature words), and decoding a u64 that does not
 * fit is an error the caller reports, never a silent rounding.
 */

export interface Message {
  request: number;
  flags: number;
  /** The payload (a copy: safe to keep). */
  payload: Uint8Array;
  /** File descriptors that came with the message (the receiver owns them). */
  fds: number[];
}

export interface VringState {
  index: number;
  num: number;
}

export interface VringAddr {
  index: number;
  flags: number;
  desc: number;
  used: number;
  avail: number;
  log: number;
}

export interface MemoryRegion {
  guestPhysAddr: number;
  memorySize: number;
  userspaceAddr: number;
  mmapOffset: number;
}

const TWO_32 = 0x1_0000_0000;

export function writeU64(view: DataView, off: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 field: ${value} is not a non-negative safe integer`);
  view.setUint32(off, value % TWO_32, true);
  view.setUint32(off + 4, Math.floor(value / TWO_32), true);
}

/** A u64 as a number, or -1 when it is 2^53 or more (the caller rejects it). */
export function readU64(view: DataView, off: number): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  if (hi >= 0x20_0000) return -1;
  return hi * TWO_32 + lo;
}

/** Header + payload in one buffer, ready for sendMsg. */
export function encode(request: number, flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, request, true);
  v.setUint32(4, (flags & ~FLAG_VERSION_MASK) | VHOST_USER_VERSION, true);
  v.setUint32(8, payload.length, true);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function u64Payload(value: number): Uint8Array {
  const p = new Uint8Array(U64_BYTES);
  writeU64(new DataView(p.buffer), 0, value);
  return p;
}

export function statePayload(s: VringState): Uint8Array {
  const p = new Uint8Array(STATE_BYTES);
  const v = new DataView(p.buffer);
  v.setUint32(STATE_INDEX, s.index, true);
  v.setUint32(STATE_NUM, s.num, true);
  return p;
}

export function addrPayload(a: VringAddr): Uint8Array {
  const p = new Uint8Array(ADDR_BYTES);
  const v = new DataView(p.buffer);
  v.setUint32(ADDR_INDEX, a.index, true);
  v.setUint32(ADDR_FLAGS, a.flags, true);
  writeU64(v, ADDR_DESC, a.desc);
  writeU64(v, ADDR_USED, a.used);
  writeU64(v, ADDR_AVAIL, a.avail);
  writeU64(v, ADDR_LOG, a.log);
  return p;
}

/** SET_MEM_TABLE payload: the header and exactly `regions.length` regions (QEMU's and DPDK's size). */
export function memTablePayload(regions: readonly MemoryRegion[]): Uint8Array {
  if (regions.length > MAX_REGIONS) throw new RangeError(`${regions.length} memory regions, at most ${MAX_REGIONS}`);
  const p = new Uint8Array(MEM_REGIONS + REGION_BYTES * regions.length);
  const v = new DataView(p.buffer);
  v.setUint32(MEM_NREGIONS, regions.length, true);
  regions.forEach((r, i) => {
    const o = MEM_REGIONS + i * REGION_BYTES;
    writeU64(v, o + REGION_GUEST_PHYS, r.guestPhysAddr);
    writeU64(v, o + REGION_SIZE, r.memorySize);
    writeU64(v, o + REGION_USER_ADDR, r.userspaceAddr);
    writeU64(v, o + REGION_MMAP_OFFSET, r.mmapOffset);
  });
  return p;
}

function view(p: Uint8Array): DataView {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

/** Decoders return null when the payload has the wrong size or a field does not fit: the caller names the message. */
export function decodeU64(p: Uint8Array): number | null {
  if (p.length !== U64_BYTES) return null;
  const n = readU64(view(p), 0);
  return n < 0 ? null : n;
}

export function decodeState(p: Uint8Array): VringState | null {
  if (p.length !== STATE_BYTES) return null;
  const v = view(p);
  return { index: v.getUint32(STATE_INDEX, true), num: v.getUint32(STATE_NUM, true) };
}

export function decodeAddr(p: Uint8Array): VringAddr | null {
  if (p.length !== ADDR_BYTES) return null;
  const v = view(p);
  const a = {
    index: v.getUint32(ADDR_INDEX, true),
    flags: v.getUint32(ADDR_FLAGS, true),
    desc: readU64(v, ADDR_DESC),
    used: readU64(v, ADDR_USED),
    avail: readU64(v, ADDR_AVAIL),
    log: readU64(v, ADDR_LOG),
  };
  return a.desc < 0 || a.used < 0 || a.avail < 0 || a.log < 0 ? null : a;
}

/** The memory table; null for a bad size, too many regions, or a field of 2^53 or more. */
export function decodeMemTable(p: Uint8Array): MemoryRegion[] | null {
  if (p.length < MEM_REGIONS) return null;
  const v = view(p);
  const n = v.getUint32(MEM_NREGIONS, true);
  if (n > MAX_REGIONS) return null;
  // QEMU and DPDK send exactly n regions; some front-ends send the whole 8-entry array.
  if (p.length !== MEM_REGIONS + n * REGION_BYTES && p.length !== MEM_REGIONS + MAX_REGIONS * REGION_BYTES) return null;
  const out: MemoryRegion[] = [];
  for (let i = 0; i < n; i++) {
    const o = MEM_REGIONS + i * REGION_BYTES;
    const r = {
      guestPhysAddr: readU64(v, o + REGION_GUEST_PHYS),
      memorySize: readU64(v, o + REGION_SIZE),
      userspaceAddr: readU64(v, o + REGION_USER_ADDR),
      mmapOffset: readU64(v, o + REGION_MMAP_OFFSET),
    };
    if (r.guestPhysAddr < 0 || r.memorySize < 0 || r.userspaceAddr < 0 || r.mmapOffset < 0) return null;
    out.push(r);
  }
  return out;
}

/** Parse a 12-byte header; null when the version is not 1. */
export function decodeHeader(h: Uint8Array): { request: number; flags: number; size: number } | null {
  const v = view(h);
  const flags = v.getUint32(4, true);
  if ((flags & FLAG_VERSION_MASK) !== VHOST_USER_VERSION) return null;
  return { request: v.getUint32(0, true), flags, size: v.getUint32(8, true) };
}

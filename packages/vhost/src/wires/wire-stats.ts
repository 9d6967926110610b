import { constants as osConstants } from "node:os";
import type { Memory } from "@tpdk/eal";
import { HIST_SLOTS, histSummary, type LatencySummary } from "./latency-histogram.js";

/**
 * The per-wire stats block: Float64 slots in EAL memory, reserved by the
 * device (WIRE_STATS_BYTES at a multiple of 8), written only by the device
 * thread (plain stores: one writer, and an 8-byte aligned store is not torn on
 * the platforms Node runs on), read by anyone with readWireStats(). A reader
 * sees values that may lag by the frames in flight, never a mix of runs:
 * createWire() zeroes the block before the device starts.
 */

export const WIRE_KIND_GEN = 1;
export const WIRE_KIND_SINK = 2;
export const WIRE_KIND_PCAP = 3;
export const WIRE_KIND_LOOP = 4;
export const WIRE_KIND_UDP = 5;
const KIND_NAMES = ["none", "gen", "sink", "pcap", "loop", "udp"] as const;

// Slot indices (Float64 units from the block start).
export const S_KIND = 0;
export const S_GENERATED = 1;
export const S_GENERATED_BYTES = 2;
export const S_MISSED = 3;
export const S_RECEIVED = 4;
export const S_RECEIVED_BYTES = 5;
export const S_LOST = 6;
export const S_REORDERED = 7;
export const S_DUPLICATED = 8;
export const S_BAD_CHECKSUM = 9;
export const S_FOREIGN = 10;
export const S_WRITE_ERRORS = 11;
export const S_EXHAUSTED = 12;
export const S_UNTRACKED = 13;
export const S_LATENCY_ON = 14;
/** First slot of the latency histogram (see latency-histogram.ts). */
export const S_HIST = 16;
// Slots added after the histogram (so the slots above keep their indices):
// the loop and udp wires' queue and socket counters.
/** Frames that found the wire's receive queue full: also counted generated and missed. */
export const S_OVERFLOW = S_HIST + HIST_SLOTS; // 916
export const S_DATAGRAMS_IN = S_OVERFLOW + 1;
export const S_DATAGRAMS_OUT = S_OVERFLOW + 2;
export const S_BAD_VXLAN = S_OVERFLOW + 3;
export const S_BAD_LENGTH = S_OVERFLOW + 4;
export const S_SEND_DROPPED = S_OVERFLOW + 5;
/** Why the last write failed: an errno number (os.constants.errno), or WRITE_ERROR_CLOSED; 0 = none yet. */
export const S_LAST_WRITE_ERROR = S_OVERFLOW + 6;
const S_END = S_OVERFLOW + 8; // one spare slot

/** S_LAST_WRITE_ERROR value for a write to a socket that is closed (no errno of its own). */
export const WRITE_ERROR_CLOSED = -1;

/**
 * Remember why a write failed (cold: error paths only): the error's errno
 * code (EACCES, ENOSPC, EMSGSIZE, ...), readable later as
 * WireStats.lastWriteError. Errors without an errno code leave the slot alone.
 */
export function recordWriteError(f64: Float64Array, base: number, err: unknown): void {
  const code = (err as { code?: unknown } | null)?.code;
  const n = typeof code === "string" ? (osConstants.errno as Record<string, number | undefined>)[code] : undefined;
  if (n !== undefined) f64[base + S_LAST_WRITE_ERROR] = n;
}

function writeErrorName(v: number): string | null {
  if (v === 0) return null;
  if (v === WRITE_ERROR_CLOSED) return "socket closed";
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === v) return name;
  return `errno ${v}`;
}

export const WIRE_STATS_BYTES = S_END * 8;

export type WireKind = "gen" | "sink" | "pcap" | "loop" | "udp";

export interface WireStats {
  kind: WireKind | "none";
  /** Frames the wire offered the device: produced into driver buffers plus missed. */
  generated: number;
  generatedBytes: number;
  /** Offered frames the device dropped because the driver had posted no buffer. */
  missed: number;
  /** Frames the driver transmitted to the wire (consumed), ours and foreign. */
  received: number;
  receivedBytes: number;
  /** Sequence gaps not (yet) filled by late frames, over all tracked streams. */
  lost: number;
  /** Frames that arrived below the highest sequence number seen on their stream. */
  reordered: number;
  /** Frames whose sequence number had already arrived (within the tracking window). */
  duplicated: number;
  /** Frames with our magic and a wrong IPv4 or UDP checksum (only with check=1). */
  badChecksum: number;
  /** Frames without our magic (not IPv4/UDP, or someone else's payload). */
  foreign: number;
  /** Frames the wire could not pass on: a tx_pcap write error (e.g. disk full), a udp send error or closed socket. */
  writeErrors: number;
  /** Why the last of them failed: an errno name (ENOSPC, EACCES, EMSGSIZE, ...) or "socket closed"; null when none did. */
  lastWriteError: string | null;
  /** Frames of streams beyond the tracked ones: counted, not sequence-checked. */
  untracked: number;
  /** True once a finite input has been wholly offered (see Wire.exhausted). */
  exhausted: boolean;
  /**
   * loop, udp: frames that arrived while the wire's receive queue was full
   * (the device was not taking frames); included in generated and missed.
   */
  overflow: number;
  /** udp: datagrams read from the socket (valid frames, bad VXLAN headers and bad lengths alike). */
  datagramsIn: number;
  /** udp: datagrams the socket reported sent. */
  datagramsOut: number;
  /** udp with vxlan=: datagrams dropped for a bad VXLAN header (no I flag, another VNI, under 8 bytes). */
  badVxlan: number;
  /** udp: datagrams dropped because the frame inside is shorter than an Ethernet header (14 bytes). */
  badLength: number;
  /** udp: transmitted frames dropped because every send buffer was in flight. */
  sendDropped: number;
  /** Send-to-receive latency in µs, present when the wire records latency (latency=1). */
  latency?: LatencySummary;
}

/** Float64 index of the block at byte offset statsOffset (must be 8-aligned). */
export function statsBase(statsOffset: number): number {
  if (!Number.isInteger(statsOffset) || statsOffset <= 0 || statsOffset % 8 !== 0) {
    throw new RangeError(`wire stats offset ${statsOffset} is not a positive multiple of 8`);
  }
  return statsOffset >>> 3;
}

/**
 * A wire's counters plus a copy of its raw latency histogram (HIST_SLOTS
 * values; null when the wire records no latency): two snapshots give a
 * window's latency with histWindow(before.hist, after.hist), so nobody needs
 * this block's layout (any thread, cold path).
 */
export interface WireStatsSnapshot {
  readonly stats: WireStats;
  readonly hist: Float64Array | null;
}

export function snapshotWireStats(mem: Memory, statsOffset: number): WireStatsSnapshot {
  const b = statsBase(statsOffset);
  const f = mem.f64;
  const hist = f[b + S_LATENCY_ON]! !== 0 ? f.slice(b + S_HIST, b + S_HIST + HIST_SLOTS) : null;
  return { stats: readWireStats(mem, statsOffset), hist };
}

/** Read a wire's counters (any thread, cold path). */
export function readWireStats(mem: Memory, statsOffset: number): WireStats {
  const b = statsBase(statsOffset);
  const f = mem.f64;
  const s: WireStats = {
    kind: KIND_NAMES[f[b + S_KIND]! | 0] ?? "none",
    generated: f[b + S_GENERATED]!,
    generatedBytes: f[b + S_GENERATED_BYTES]!,
    missed: f[b + S_MISSED]!,
    received: f[b + S_RECEIVED]!,
    receivedBytes: f[b + S_RECEIVED_BYTES]!,
    lost: f[b + S_LOST]!,
    reordered: f[b + S_REORDERED]!,
    duplicated: f[b + S_DUPLICATED]!,
    badChecksum: f[b + S_BAD_CHECKSUM]!,
    foreign: f[b + S_FOREIGN]!,
    writeErrors: f[b + S_WRITE_ERRORS]!,
    lastWriteError: writeErrorName(f[b + S_LAST_WRITE_ERROR]!),
    untracked: f[b + S_UNTRACKED]!,
    exhausted: f[b + S_EXHAUSTED]! !== 0,
    overflow: f[b + S_OVERFLOW]!,
    datagramsIn: f[b + S_DATAGRAMS_IN]!,
    datagramsOut: f[b + S_DATAGRAMS_OUT]!,
    badVxlan: f[b + S_BAD_VXLAN]!,
    badLength: f[b + S_BAD_LENGTH]!,
    sendDropped: f[b + S_SEND_DROPPED]!,
  };
  if (f[b + S_LATENCY_ON]! !== 0) s.latency = histSummary(f, b + S_HIST);
  return s;
}

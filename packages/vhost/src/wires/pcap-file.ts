import * as fs from "node:fs";
import { UsageError } from "@tpdk/eal";
import { deviceClock } from "../clock.js";
import { copyBytes } from "./frame.js";

/**
 * Classic pcap files (the libpcap format, not pcapng).
 *
 * File header, 24 bytes, in the writer's byte order:
 *   magic u32 (0xa1b2c3d4 µs timestamps, 0xa1b23c4d ns), version 2.4 (u16, u16),
 *   thiszone i32, sigfigs u32, snaplen u32, linktype u32 (1 = Ethernet; upper
 *   bits may carry FCS information, bits 28..31 = FCS length when bit 26 is set).
 * Record: ts_sec u32, ts_frac u32 (µs or ns), incl_len u32, orig_len u32, then
 * incl_len bytes of frame.
 *
 * The reader accepts both byte orders and both resolutions, LINKTYPE_ETHERNET
 * only, without FCS; it rejects anything truncated or inconsistent, so a bad
 * file is reported before traffic starts. The writer writes µs, little-endian.
 */

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAPNG_MAGIC = 0x0a0d0d0a;
export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
export const LINKTYPE_ETHERNET = 1;
/** Largest frame we accept in a record (Wireshark's limit for Ethernet). */
export const PCAP_MAX_RECORD = 262144;
/** Largest rx_pcap file loaded into memory. */
export const PCAP_MAX_FILE = 1 << 30;
export const PCAP_DEFAULT_SNAPLEN = 65535;
export const PCAP_WRITE_BUFFER = 1 << 20;

export interface PcapRecord {
  /** The captured bytes (incl_len of them): a view into the file's bytes. */
  data: Uint8Array;
  /** Length of the frame on the wire (>= data.length when the capture was cut at snaplen). */
  origLen: number;
  /** Capture time: seconds and nanoseconds (µs files are scaled up). */
  tsSec: number;
  tsNsec: number;
}

export interface PcapCapture {
  byteOrder: "le" | "be";
  resolution: "us" | "ns";
  snaplen: number;
  linkType: number;
  records: PcapRecord[];
}

/** A file problem: the message completes "<file> ..." (it starts with a verb, no file name inside). */
class PcapFormatError extends Error {}

/**
 * Parse a classic pcap file's bytes. A problem throws `fail(reason)`, by
 * default UsageError("<name> <reason>"), e.g. "x.pcap is truncated: ...".
 * Records are views into `bytes` (no copy).
 */
export function parsePcap(
  bytes: Uint8Array,
  name = "pcap",
  fail: (reason: string) => Error = (r) => new UsageError(`${name} ${r}`),
): PcapCapture {
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof PcapFormatError) throw fail(e.message);
    throw e;
  }
}

/** Read and parse a classic pcap file. Throws UsageError naming the file (missing, unreadable, malformed). */
export function readPcap(path: string): PcapCapture {
  const fail = (r: string) => new UsageError(`${path} ${r}`);
  return parsePcap(readFileChecked(path, fail), path, fail);
}

/** Read a whole file, turning I/O failures and oversize into `fail(reason)`. */
export function readFileChecked(path: string, fail: (reason: string) => Error): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw fail(ioReason(e, "cannot be read"));
  }
  if (st.isDirectory()) throw fail("is a directory, not a pcap file");
  if (st.size > PCAP_MAX_FILE) {
    throw fail(`is ${Math.round(st.size / 2 ** 20)} MiB; at most ${PCAP_MAX_FILE / 2 ** 20} MiB are loaded (cut it with editcap -c)`);
  }
  try {
    const b = fs.readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw fail(ioReason(e, "cannot be read"));
  }
}

/** "does not exist", "permission denied", ... from a Node fs error. */
export function ioReason(e: unknown, what: string): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case "ENOENT":
      return `${what}: no such file or directory`;
    case "EACCES":
    case "EPERM":
      return `${what}: permission denied`;
    case "EISDIR":
      return `${what}: is a directory`;
    case "ENOTDIR":
      return `${what}: a parent is not a directory`;
    case "EROFS":
      return `${what}: read-only file system`;
    default:
      return `${what}: ${code ?? (e instanceof Error ? e.message : String(e))}`;
  }
}

function parse(bytes: Uint8Array): PcapCapture {
  const n = bytes.byteLength;
  if (n < PCAP_HEADER_LEN) {
    throw new PcapFormatError(`is truncated: ${n} bytes, shorter than the ${PCAP_HEADER_LEN}-byte pcap file header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  const magicLe = dv.getUint32(0, true);
  let le: boolean;
  let ns: boolean;
  if (magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS) {
    le = true;
    ns = magicLe === PCAP_MAGIC_NS;
  } else {
    const magicBe = dv.getUint32(0, false);
    if (magicBe === PCAP_MAGIC_US || magicBe === PCAP_MAGIC_NS) {
      le = false;
      ns = magicBe === PCAP_MAGIC_NS;
    } else if (magicLe === PCAPNG_MAGIC) {
      throw new PcapFormatError("is a pcapng file; only classic pcap is read (convert with: editcap -F pcap IN OUT)");
    } else {
      throw new PcapFormatError(`is not a pcap file (magic 0x${magicBe.toString(16).padStart(8, "0")})`);
    }
  }
  const major = dv.getUint16(4, le);
  const minor = dv.getUint16(6, le);
  if (major !== 2) throw new PcapFormatError(`has pcap version ${major}.${minor}; only 2.x is read`);
  const snaplen = dv.getUint32(16, le);
  const network = dv.getUint32(20, le);
  const linkType = network & 0xffff;
  if (linkType !== LINKTYPE_ETHERNET) {
    throw new PcapFormatError(`has link type ${linkType}; only Ethernet (LINKTYPE_ETHERNET = 1) is supported`);
  }
  if (network & (1 << 26)) {
    throw new PcapFormatError(`frames carry a ${network >>> 28}-byte FCS; only captures without FCS are supported`);
  }
  const records: PcapRecord[] = [];
  let off = PCAP_HEADER_LEN;
  while (off < n) {
    const idx = records.length + 1;
    if (off + PCAP_RECORD_HEADER_LEN > n) {
      throw new PcapFormatError(`is truncated: record ${idx} header at byte ${off} is cut short (file ends at ${n})`);
    }
    const tsSec = dv.getUint32(off, le);
    const tsFrac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const orig = dv.getUint32(off + 12, le);
    if (tsFrac >= (ns ? 1e9 : 1e6)) {
      throw new PcapFormatError(`is malformed: record ${idx} at byte ${off} has ${ns ? "nanoseconds" : "microseconds"} ${tsFrac} out of range`);
    }
    if (incl > PCAP_MAX_RECORD || (snaplen > 0 && incl > snaplen)) {
      throw new PcapFormatError(
        `is malformed: record ${idx} at byte ${off} claims ${incl} captured bytes, more than the snaplen ${snaplen}`,
      );
    }
    if (incl < 14) {
      throw new PcapFormatError(`is malformed: record ${idx} at byte ${off} has ${incl} bytes, less than an Ethernet header`);
    }
    if (orig < incl) {
      throw new PcapFormatError(`is malformed: record ${idx} at byte ${off} has original length ${orig} < captured ${incl}`);
    }
    const data = off + PCAP_RECORD_HEADER_LEN;
    if (data + incl > n) {
      throw new PcapFormatError(`is truncated: record ${idx} at byte ${off} needs ${incl} bytes but ${n - data} remain`);
    }
    records.push({
      data: bytes.subarray(data, data + incl),
      origLen: orig,
      tsSec,
      tsNsec: ns ? tsFrac : tsFrac * 1000,
    });
    off = data + incl;
  }
  return { byteOrder: le ? "le" : "be", resolution: ns ? "ns" : "us", snaplen, linkType, records };
}

/**
 * Frames packed for a structured clone: frame i is bytes[offsets[i] .. offsets[i+1]).
 * What the pcap wire spec carries to the device thread.
 */
export interface PackedFrames {
  bytes: Uint8Array;
  offsets: Uint32Array;
}

export function packFrames(frames: readonly Uint8Array[]): PackedFrames {
  let total = 0;
  for (const f of frames) total += f.byteLength;
  const bytes = new Uint8Array(total);
  const offsets = new Uint32Array(frames.length + 1);
  let off = 0;
  frames.forEach((f, i) => {
    offsets[i] = off;
    bytes.set(f, off);
    off += f.byteLength;
  });
  offsets[frames.length] = off;
  return { bytes, offsets };
}

/**
 * Writes a classic pcap file (µs, little-endian, LINKTYPE_ETHERNET) that
 * tcpdump, tshark and readPcap read.
 *
 * Records are gathered in a private buffer (default 1 MiB) and written with
 * fs.writeSync when the buffer is full and on flush()/close(). write() is
 * hot-path safe: it copies the frame (no allocation), and never throws on
 * I/O: a failed write counts the buffered frames in `errors`, truncates the
 * file back to its last whole record (so it stays readable) and carries on.
 * The file header goes through the same buffer, so opening is the only step
 * that throws (TpdkError/UsageError from the constructor).
 */
export class PcapWriter {
  readonly path: string;
  readonly snaplen: number;
  /** Frames lost to write errors. */
  errors = 0;
  /** Frames written to the file (counted when their buffer is written). */
  written = 0;
  /** The last I/O error, for diagnostics. */
  lastError: unknown = null;
  private fd: number;
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private pos = 0;
  private sec = 0; // capture time of the next records (setTime)
  private usec = 0;
  // The capture time in ms, handed over in a cell rather than as an argument:
  // a double passed to a call V8 does not inline is boxed (allocated).
  private readonly timeCell = new Float64Array(1);
  /** deviceClock[0] when stampFromDeviceClock() last set the time. */
  private clockSeen = NaN;
  private readonly origin = performance.timeOrigin;
  private pending = 0; // frames in buf
  // Bytes known to be in the file. A Float64Array slot, not a field: the count
  // passes 2^31 on big captures, and a field turning from small integer to
  // double would change the object's shape and deoptimize write().
  private readonly fileBytesSlot = new Float64Array(1);
  // Placeholders of the final types (not null): a field changing from null to
  // an object changes the object's shape and deoptimizes the hot path once warm.
  private srcU8: Uint8Array = new Uint8Array(0);
  private srcView: DataView = new DataView(new ArrayBuffer(0));

  constructor(path: string, opts: { bufferBytes?: number; snaplen?: number } = {}) {
    this.path = path;
    this.snaplen = opts.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    const size = Math.max(opts.bufferBytes ?? PCAP_WRITE_BUFFER, PCAP_HEADER_LEN + PCAP_RECORD_HEADER_LEN + this.snaplen);
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    try {
      this.fd = fs.openSync(path, "w");
    } catch (e) {
      throw new UsageError(`${path} ${ioReason(e, "cannot be written")}`);
    }
    const v = this.view;
    v.setUint32(0, PCAP_MAGIC_US, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.pos = PCAP_HEADER_LEN;
  }

  /**
   * Append the frame at u8[off .. off+len), captured at `timeMs` (ms since the
   * Unix epoch). Frames longer than snaplen are cut (orig_len keeps the length).
   * Hot loops call stampFromDeviceClock() and writeRecord() per frame instead:
   * a computed double passed to a call may be boxed (allocated) per call.
   */
  write(u8: Uint8Array, off: number, len: number, timeMs: number): void {
    this.setTime(timeMs);
    this.writeRecord(u8, off, len);
  }

  /** Set the capture time (ms since the Unix epoch) of the records writeRecord() appends next. */
  setTime(timeMs: number): void {
    this.timeCell[0] = timeMs;
    this.applyTime();
  }

  /**
   * Hot path: stamp the records appended next with the device thread's clock
   * (deviceClock, on this thread's performance.now() scale). Takes no argument
   * and recomputes only when the reading changed (once per device pass).
   */
  stampFromDeviceClock(): void {
    const now = deviceClock[0]!;
    if (now === this.clockSeen) return;
    this.clockSeen = now;
    this.timeCell[0] = this.origin + now;
    this.applyTime();
  }

  private applyTime(): void {
    const timeMs = this.timeCell[0]!;
    let sec = Math.floor(timeMs / 1000);
    let usec = Math.round((timeMs - sec * 1000) * 1000);
    if (usec >= 1e6) {
      sec++;
      usec -= 1e6;
    }
    this.sec = sec;
    this.usec = usec;
  }

  /** Hot path: append the frame at u8[off .. off+len), stamped with the last setTime(). No allocation. */
  writeRecord(u8: Uint8Array, off: number, len: number): void {
    if (this.fd < 0) {
      this.errors++;
      return;
    }
    if (u8 !== this.srcU8) {
      // Once per source array (normally once: EAL memory), not per frame.
      this.srcU8 = u8;
      this.srcView = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    }
    const cap = len < this.snaplen ? len : this.snaplen;
    if (this.pos + PCAP_RECORD_HEADER_LEN + cap > this.buf.byteLength) this.flush();
    const v = this.view;
    const p = this.pos;
    v.setUint32(p, this.sec >>> 0, true);
    v.setUint32(p + 4, this.usec, true);
    v.setUint32(p + 8, cap, true);
    v.setUint32(p + 12, len, true);
    copyBytes(v, p + PCAP_RECORD_HEADER_LEN, this.srcView, off, cap);
    this.pos = p + PCAP_RECORD_HEADER_LEN + cap;
    this.pending++;
  }

  /** Append a frame (convenience for tests and apps; timeMs defaults to now). */
  writeFrame(frame: Uint8Array, timeMs = performance.timeOrigin + performance.now()): void {
    this.write(frame, 0, frame.byteLength, timeMs);
  }

  /** Write the buffered records to the file. Never throws. */
  flush(): void {
    if (this.pending === 0 && this.fileBytesSlot[0]! > 0) return;
    if (this.fd < 0) return;
    const len = this.pos;
    let done = 0;
    try {
      while (done < len) done += fs.writeSync(this.fd, this.buf, done, len - done);
      this.fileBytesSlot[0]! += len;
      this.written += this.pending;
    } catch (e) {
      this.lastError = e;
      this.errors += this.pending;
      // Keep the file a valid pcap: drop the partial records just written.
      if (done > 0) {
        try {
          fs.ftruncateSync(this.fd, this.fileBytesSlot[0]);
        } catch {
          // A file we cannot even truncate (e.g. a device node): nothing more to do.
        }
      }
    }
    // Until the file header is in the file, keep it at the front of the buffer
    // (bytes 0..24 are untouched: records start after it) so it goes out first.
    this.pos = this.fileBytesSlot[0] === 0 ? PCAP_HEADER_LEN : 0;
    this.pending = 0;
  }

  /** Flush and close the file. Idempotent; never throws. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    try {
      fs.closeSync(this.fd);
    } catch (e) {
      this.lastError = e;
    }
    this.fd = -1;
  }
}

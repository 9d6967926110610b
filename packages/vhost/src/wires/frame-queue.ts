import { type Memory, TpdkError } from "@tpdk/eal";

/**
 * A FIFO of variable-length frames kept in a zone of EAL memory, for wires
 * whose frames wait on the device thread between two events: a loop wire's
 * frames between the transmit on one port and the receive on its peer, a udp
 * wire's datagrams between the socket read and the receive, and its send
 * buffers until the socket is done with them.
 *
 * Why EAL memory: frames come from and go to driver buffers in the same
 * SharedArrayBuffer, so both copies are one `u8.copyWithin` (native memmove)
 * with no view made per frame; a private buffer would need a subarray (an
 * allocation) or a JS byte loop. The driver can write anywhere in EAL memory,
 * so only frame bytes live there: offsets, lengths and indices are in private
 * typed arrays and a scribbling driver can corrupt frames, never the queue.
 *
 * Single-threaded (both ends run on the device thread): no atomics. A frame
 * is stored contiguously, never split at the end of the zone (the space left
 * at the end is skipped), so each copy is a single call. Bounded twice: by
 * `capacity` frames and by the zone's bytes; push() returns -1 when full.
 */
export class FrameQueue {
  /** Byte offset of the arena in EAL memory. */
  readonly base: number;
  readonly bytes: number;
  /** Most frames held at once (a power of two). */
  readonly capacity: number;
  private readonly mask: number;
  /** Per entry: absolute byte offset and length of the frame. */
  private readonly off: Int32Array;
  private readonly len: Int32Array;
  /** Next entry to fill, oldest entry, entries held. */
  private head = 0;
  private tail = 0;
  private n = 0;
  /** Arena-relative byte offset where the next frame would start. */
  private wr = 0;

  constructor(base: number, bytes: number, capacity: number) {
    if ((capacity & (capacity - 1)) !== 0 || capacity < 1) throw new TpdkError("EINVAL", `frame queue capacity ${capacity} is not a power of two`);
    this.base = base;
    this.bytes = bytes;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
  }

  /** Frames held. */
  count(): number {
    return this.n;
  }

  /**
   * Make room for a frame of `lead + len` bytes and append an entry for its
   * last `len` bytes (`lead` bytes, such as a VXLAN header, are written with
   * the frame but are not part of it). Returns the absolute byte offset of
   * the room (the caller copies the bytes there), or -1 when full. Hot path.
   */
  push(len: number, lead: number): number {
    const n = this.n;
    if (n === this.capacity) return -1;
    const need = lead + len;
    let at: number;
    if (n === 0) {
      // Empty: restart at the arena's start, the most room in one piece.
      if (need > this.bytes) return -1;
      at = 0;
    } else {
      const rd = this.off[this.tail]! - this.base; // start of the oldest frame (its lead bytes are dead)
      const wr = this.wr;
      if (wr > rd) {
        // Held frames are [rd, wr): room at the end, else at the start before rd.
        if (wr + need <= this.bytes) at = wr;
        else if (need <= rd) at = 0;
        else return -1;
      } else {
        // Wrapped: held frames are [rd, end) and [0, wr); room is [wr, rd).
        if (wr + need <= rd) at = wr;
        else return -1;
      }
    }
    this.wr = at + need;
    const h = this.head;
    const a = this.base + at;
    this.off[h] = a + lead;
    this.len[h] = len;
    this.head = (h + 1) & this.mask;
    this.n = n + 1;
    return a;
  }

  /** Entry index of the frame push() appended last (for callers that track entries). */
  lastIndex(): number {
    return (this.head - 1) & this.mask;
  }

  /** Entry index of the oldest frame (valid when count() > 0). */
  frontIndex(): number {
    return this.tail;
  }

  /** Absolute byte offset of the oldest frame (valid when count() > 0). */
  frontOffset(): number {
    return this.off[this.tail]!;
  }

  /** Length of the oldest frame (valid when count() > 0). */
  frontLength(): number {
    return this.len[this.tail]!;
  }

  /** Remove the oldest frame (valid when count() > 0). */
  pop(): void {
    this.tail = (this.tail + 1) & this.mask;
    this.n--;
  }

  /** Drop every frame (cold). */
  clear(): void {
    this.head = 0;
    this.tail = 0;
    this.n = 0;
    this.wr = 0;
  }
}

/**
 * The EAL zone a wire keeps its queues in (cold, device thread). Named after
 * the wire's stats block, which is unique per device within a Memory; a wire
 * re-created on the same stats block (tests) gets the same zone back.
 */
export function reserveWireZone(mem: Memory, statsOffset: number, bytes: number, what: string): number {
  const name = `wire.${statsOffset}.queues`;
  const z = mem.lookup(name);
  if (z !== undefined) {
    if (z.length < bytes) throw new TpdkError("EEXIST", `zone ${name} exists with ${z.length} bytes, ${what} needs ${bytes}`);
    return z.offset;
  }
  try {
    return mem.reserve(name, bytes, 64).offset;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "ENOMEM") throw e;
    throw new TpdkError("ENOMEM", `${what} needs ${(bytes / 1048576).toFixed(1)} MiB of shared memory for its frame queues and it is used up; raise -m`, { cause: e });
  }
}

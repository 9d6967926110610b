import { getSystemErrorName } from "node:util";
import type { NativeBinding } from "@tpdk/native";
import { MAX_REGIONS } from "../protocol.js";
import type { DataPlane, RingRun } from "./session.js";

/**
 * The words one ring's control path (main thread) and data path (the lcore
 * that polls the port) share, and the handshake that stops a ring: the
 * vhost-user session (main) decides, the lcore obeys at its next burst.
 *
 *   lcore, every burst:  store BUSY=1; load STATE; not RUNNING: store BUSY=0, return 0
 *                        GEN moved: reload the configuration (cold: map the memory); when that
 *                        fails: store FAULT, write FAULT_FD, the ring idle until GEN moves again
 *                        ... process ... store LAST_AVAIL; store BUSY=0
 *   main, stopRing():    store STATE=STOPPED; wait until BUSY reads 0 (bounded); load LAST_AVAIL
 *   main, startRing():   write the configuration, GEN+1, LAST_AVAIL=base; store STATE=RUNNING
 *
 * Atomics are sequentially consistent: once main has stored STOPPED and then
 * read BUSY=0, the lcore either finished its burst or will read STOPPED
 * after its BUSY store, so it no longer touches the ring nor its memory;
 * that is when the session may close the memory's fds. Per burst this costs
 * three Atomics stores and one load.
 *
 * A reload can fail for reasons SET_MEM_TABLE's trial map could not see (the
 * front-end shrank its file in between, ENOMEM, address space): the lcore
 * must not die of it (its other rings and ports keep running), so it counts
 * it, stores the errno in FAULT and writes the port's fault eventfd; the
 * control path (server.ts) watches that eventfd and closes the connection.
 *
 * A front-end whose memory file is not sealed may also shrink it while a ring
 * runs: the lcore's next touch past the new end is SIGBUS. The lcore guards
 * each mapping it uses (native.guardMapping with this ring's MEM_FAULT and
 * FAULT_FD words): the addon's handler puts zero pages over the file's slot
 * (the rings then read as empty), adds 1 to MEM_FAULT and writes FAULT_FD,
 * and the same path closes the connection. No work in the burst.
 */

export const W_STATE = 0;
export const W_BUSY = 1;
export const W_GEN = 2;
export const W_LAST_AVAIL = 3;
export const W_SIZE = 4;
export const W_DESC = 5;
export const W_AVAIL = 6;
export const W_USED = 7;
export const W_CALL_FD = 8;
/** How many files the table maps (their fds and lengths at RING_FILES in the f64 part). */
export const W_NFILES = 9;
export const W_MEM_GEN = 10;
export const W_FEAT_LO = 11;
export const W_FEAT_HI = 12;
export const W_NREGIONS = 13;
/** The queue object that drives this ring (its token), 0 = none: one object per ring, like the PMD's queues. */
export const W_CLAIM = 14;
/** Set by the lcore when it could not set this configuration up (reload threw): the errno, or -1; 0 = none. Cleared by startRing. */
export const W_FAULT = 15;
/** The eventfd the lcore writes after storing FAULT (RingControl.faultFd), -1 = none. */
export const W_FAULT_FD = 16;
/**
 * Touches of the ring's memory past the end of a file the front-end shrank (SIGBUS), answered by the
 * addon's guard (native.guardMapping, registered by the lcore with this word and W_FAULT_FD): it adds 1
 * here and writes FAULT_FD. Taken (set back to 0) by RingControl.memoryFault on the main thread.
 */
export const W_MEM_FAULT = 17;
/** Int32 words per ring (a multiple of 2: the f64 part follows); then MAX_REGIONS * 5 f64 (the table's ranges), then per file its fd and length (RING_FILES). */
export const RING_WORDS = 18;
/** In the f64 part: file k's fd at RING_FILES + 2k, the bytes mapped of it at + 1. */
export const RING_FILES = MAX_REGIONS * 5;
const RING_F64_FIELDS = RING_FILES + MAX_REGIONS * 2;
export const RING_BYTES = RING_WORDS * 4 + RING_F64_FIELDS * 8;

export const STOPPED = 0;
export const RUNNING = 1;

/** How long stopRing waits for an lcore to finish its burst before giving up on it (ms). */
const QUIESCE_MS = 1000;

/** Views of one ring's shared words inside a SharedArrayBuffer (EAL memory, or a test's). */
export class RingWords {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  constructor(sab: SharedArrayBuffer, offset: number) {
    this.i32 = new Int32Array(sab, offset, RING_WORDS);
    this.f64 = new Float64Array(sab, offset + RING_WORDS * 4, RING_F64_FIELDS);
  }
}

/**
 * The main thread's side for a port's rings: the session's DataPlane.
 * `ringWords(i)` gives ring i's shared words.
 */
export class RingControl implements DataPlane {
  private readonly sleep = new Int32Array(new SharedArrayBuffer(4));
  private memGen = 0;
  private lastMemory: unknown = null;
  /** Stops that found an lcore still busy after QUIESCE_MS (it is hung: the ring is abandoned). */
  stuck = 0;
  /**
   * The eventfd lcores write when they could not set a ring up (W_FAULT): the server watches it and
   * closes the connection. One per port for its life (close() closes it); -1 without `native`.
   */
  get faultFd(): number {
    return this.faultEventfd;
  }
  private faultEventfd: number;

  constructor(private readonly words: readonly RingWords[], private readonly native?: NativeBinding) {
    this.faultEventfd = native ? native.eventfd(0) : -1;
  }

  startRing(r: RingRun): void {
    const w = this.words[r.index]!;
    const i = w.i32;
    if (r.memory !== this.lastMemory) {
      this.lastMemory = r.memory;
      this.memGen++;
    }
    i[W_SIZE] = r.size;
    i[W_DESC] = r.desc;
    i[W_AVAIL] = r.avail;
    i[W_USED] = r.used;
    i[W_CALL_FD] = r.callFd;
    const files = r.memory.files;
    i[W_NFILES] = files.length;
    for (let k = 0; k < files.length; k++) {
      w.f64[RING_FILES + 2 * k] = files[k]!.fd;
      w.f64[RING_FILES + 2 * k + 1] = files[k]!.key.size;
    }
    i[W_MEM_GEN] = this.memGen;
    i[W_FEAT_LO] = r.features % 0x1_0000_0000;
    i[W_FEAT_HI] = Math.floor(r.features / 0x1_0000_0000);
    i[W_NREGIONS] = r.memory.n;
    w.f64.set(r.memory.ranges.subarray(0, RING_FILES));
    i[W_LAST_AVAIL] = r.base;
    i[W_FAULT] = 0;
    i[W_FAULT_FD] = this.faultFd;
    Atomics.add(i, W_GEN, 1);
    // Pairs with the lcore's Atomics.load of STATE after its BUSY store: the words above are visible to it.
    Atomics.store(i, W_STATE, RUNNING);
  }

  stopRing(index: number): number {
    const i = this.words[index]!.i32;
    // Pairs with the lcore's load of STATE at the start of its burst.
    Atomics.store(i, W_STATE, STOPPED);
    const deadline = Date.now() + QUIESCE_MS;
    // Pairs with the lcore's Atomics.store(BUSY, 0) at the end of its burst (a burst takes microseconds).
    while (Atomics.load(i, W_BUSY) !== 0) {
      if (Date.now() > deadline) {
        this.stuck++;
        break;
      }
      Atomics.wait(this.sleep, 0, 0, 0.05);
    }
    // Pairs with the lcore's Atomics.store of LAST_AVAIL before it cleared BUSY.
    return Atomics.load(i, W_LAST_AVAIL) & 0xffff;
  }

  /**
   * The session dropped a table (new table, reset, disconnect): every ring is
   * stopped by now. MEM_GEN 0 tells each lcore, at its next burst, to let go
   * of its mapping (unmapped at once when no ring of that thread uses it).
   */
  memoryReleased(table: unknown): void {
    if (table === this.lastMemory) this.lastMemory = null;
    // Pairs with the lcore's Atomics.load of MEM_GEN on its stopped path (guest-queue.ts begin()).
    for (const w of this.words) if (Atomics.load(w.i32, W_STATE) !== RUNNING) Atomics.store(w.i32, W_MEM_GEN, 0);
  }

  /** Port stopped: every ring may be taken again by a new queue object. */
  clearClaims(): void {
    for (const w of this.words) Atomics.store(w.i32, W_CLAIM, 0);
  }

  /**
   * The first running ring whose lcore could not set it up (W_FAULT), as a reason naming the
   * errno; null when none. Main thread, cold: after the fault eventfd fired.
   */
  fault(): string | null {
    for (let r = 0; r < this.words.length; r++) {
      const i = this.words[r]!.i32;
      // Pairs with the lcore's Atomics.store of FAULT before it wrote the eventfd.
      const code = Atomics.load(i, W_FAULT);
      if (code === 0 || Atomics.load(i, W_STATE) !== RUNNING) continue;
      return `ring ${r}: the lcore could not set the ring up: ${code > 0 ? getSystemErrorName(-code) : "error"} (mapping the front-end's memory or configuring the ring)`;
    }
    return null;
  }

  /**
   * Rings whose lcore met a shrunk memory file (W_MEM_FAULT, the addon's SIGBUS guard), as a reason;
   * null when none. Takes the marks (sets them back to 0): each fault is reported once. Main thread,
   * cold: after the fault eventfd fired.
   */
  memoryFault(): string | null {
    let why: string | null = null;
    for (let r = 0; r < this.words.length; r++) {
      // Pairs with the guard's atomic add of MEM_FAULT before it wrote the eventfd.
      const n = Atomics.exchange(this.words[r]!.i32, W_MEM_FAULT, 0);
      if (n !== 0 && why === null) {
        why = `ring ${r}: the front-end shrank its memory file under the lcore's mapping (SIGBUS past the file's end, answered by zero pages; seal the file with F_SEAL_SHRINK, or sealed=1 to require it)`;
      }
    }
    return why;
  }

  /** The port is gone: its fault eventfd is closed (every ring stopped by now). */
  close(): void {
    // The addon's SIGBUS guard reads the fd from the words when it fires: never a closed (or reused) number.
    for (const w of this.words) Atomics.store(w.i32, W_FAULT_FD, -1);
    if (this.faultEventfd >= 0) this.native!.close(this.faultEventfd);
    this.faultEventfd = -1;
  }

  /** Whether ring `index` is running (for the link and tests). */
  running(index: number): boolean {
    return Atomics.load(this.words[index]!.i32, W_STATE) === RUNNING;
  }
}

import { MAX_REGIONS } from "../protocol.js";
import type { DataPlane, RingRun } from "./session.js";

/**
 * The words one ring's control path (main thread) and data path (the lcore
 * that polls the port) share, and the handshake that stops a ring: the
 * vhost-user session (main) decides, the lcore obeys at its next burst.
 *
 *   lcore, every burst:  store BUSY=1; load STATE; not RUNNING: store BUSY=0, return 0
 *                        GEN moved: reload the configuration (cold: map the memory)
 *                        ... process ... store LAST_AVAIL; store BUSY=0
 *   main, stopRing():    store STATE=STOPPED; wait until BUSY reads 0 (bounded); load LAST_AVAIL
 *   main, startRing():   write the configuration, GEN+1, LAST_AVAIL=base; store STATE=RUNNING
 *
 * Atomics are sequentially consistent: once main has stored STOPPED and then
 * read BUSY=0, the lcore either finished its burst or will read STOPPED
 * after its BUSY store, so it no longer touches the ring nor its memory;
 * that is when the session may close the memory's fds. Per burst this costs
 * three Atomics stores and one load.
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
/** Int32 words per ring; then MAX_REGIONS * 5 f64 (the table's ranges), then per file its fd and length (RING_FILES). */
export const RING_WORDS = 16;
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

  constructor(private readonly words: readonly RingWords[]) {}

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

  /** Whether ring `index` is running (for the link and tests). */
  running(index: number): boolean {
    return Atomics.load(this.words[index]!.i32, W_STATE) === RUNNING;
  }
}

import { type Memory, launchedLcoreIdle, lcoreZoneOffset } from "@tpdk/eal";
import { rxRefillThreshold } from "@tpdk/virtio";
import type { DeviceQueue } from "./virtqueue.js";

/**
 * No lcore launched (an application polling from its main thread): a
 * receive-only application, no progress for this long, the driver has taken
 * the frames: release the window, ms.
 */
export const DEMAND_RELEASE_MS = 5;
/** The same before the first such release, while a forwarding application's thread may just be descheduled, ms. */
export const DEMAND_FIRST_RELEASE_MS = 1000;
/** No progress for this long while frames are out: release the window anyway (a driver that keeps buffers back), ms. */
export const DEMAND_RELEASE_ANYWAY_MS = 10_000;
/**
 * Longest gap between two ticks that counts as idle time, ms: a longer one
 * means this thread itself was not running (descheduled), and nobody can be
 * blamed for not making progress while it was away.
 */
const MAX_IDLE_STEP_MS = 4;

/** The device facts the window is sized from (NetDevice satisfies it). */
export interface DemandDevice {
  readonly active: boolean;
  readonly activePairs: number;
  readonly queues: readonly DeviceQueue[];
  readonly onDemand: boolean;
  /** RING_PACKED negotiated: the receive queues' buffers are counted on their packed rings. */
  readonly packed?: boolean;
  readonly pqueues?: readonly { availableNow(): number }[];
}

/**
 * Back-pressure from the transmit side to on-demand sources (Wire.onDemand:
 * a file replayed by wire=pcap), shared by every device of one device thread.
 *
 * A file has no line rate: nothing forces it to be read before the
 * application has room for its frames (DPDK's net_pcap reads it as the
 * application polls and writes on transmit). Here the application sits
 * between two rings served by the same thread: frames placed in a receive
 * ring go to the application, which forwards them into a transmit ring. If
 * the thread fills receive rings faster than it drains transmit rings, an
 * application that runs (or is descheduled) at the wrong moment finds a
 * transmit ring full and drops (l2fwd: "TX ring full"), more with
 * tx_mode=chained, whose packets take two descriptors.
 *
 * So on-demand sources keep at most `window` frames out: produced into a
 * receive ring of the thread and not yet matched by a chain taken from a
 * transmit ring of the thread, wherever they are in between (receive ring,
 * application buffers, transmit ring). `window` is half the smallest enabled
 * transmit queue (a chained packet takes two descriptors), so everything out
 * fits the transmit ring it is sent to, whatever the TX path, queue size and
 * scheduling. Line-rate sources (gen, loop, udp) are not held back; this
 * costs them one addition per transmit pass.
 *
 * An application that receives without transmitting never gives the window
 * back. As long as the thread has not taken a single transmit chain since an
 * on-demand source first produced, the window is released when nothing moved
 * (no frame produced, no receive buffer re-posted), the driver has taken the
 * frames out of the receive rings (fewer buffers unposted than tpdk's driver
 * holds back until its refill, @tpdk/virtio rxRefillThreshold, summed over
 * the receive queues; without lcores also fewer than a window, so that a
 * window of frames waiting for lcores yet to poll is never taken for taken
 * and held back), and every lcore of the EAL's launch has
 * gone idle since (its Backoff counted an idle() past the spin passes: it
 * found nothing to do, pass after pass, so it holds no frame it is about to
 * send; l2fwd drains its TX buffers on every pass that found no input). The
 * idle counts are checked one tick late, so a transmit chain published just
 * before them has been taken by a pass in between. This is counted, not
 * timed: a forwarding lcore descheduled while holding the first frames
 * never looks idle, however long it waits. An application polling from a
 * thread that is no lcore (no launch) cannot be seen idle: for it the
 * window is released after DEMAND_FIRST_RELEASE_MS, then DEMAND_RELEASE_MS,
 * of that state. Once frames are seen coming back (a forwarding
 * application), a pause means an application thread holds frames, and
 * releasing the window then would overrun a transmit ring: only
 * DEMAND_RELEASE_ANYWAY_MS without any progress releases it, so that no
 * driver or application can stall a replay for good. Idle time counts only
 * while this thread runs: a gap between ticks longer than MAX_IDLE_STEP_MS
 * (the device thread was descheduled) adds no more than that.
 *
 * The window is recomputed at each tick and zeroed when a device starts
 * (DRIVER_OK), so a source waits for the next tick to see every transmit
 * queue the drivers enabled.
 *
 * Hot path: plain integer fields, no allocation. One writer: the device thread.
 */
export class DemandWindow {
  /** Frames on-demand sources may have out (0 until the first tick sizes it). */
  window = 0;
  /** Frames on-demand sources produced and not yet matched by transmit chains taken (≥ 0). */
  out = 0;
  /** True when some device of the thread has an on-demand source (else tick() does nothing). */
  used = false;
  /** Transmit passes and on-demand productions since the last tick. */
  private progress = 0;
  /** Transmit passes since the last tick. */
  private txProgress = 0;
  /** Some on-demand frame was produced; then some transmit chain was taken (the application forwards). */
  private producedAny = false;
  private forwarding = false;
  /** Releases by the receive-only rule so far. */
  private releases = 0;
  private idleMs = 0;
  private lastTick = 0;
  /** `unposted` at the last tick: a driver that takes frames and re-posts buffers is progress too. */
  private lastUnposted = -1;
  /** EAL memory (idle counts of the launched lcores), its lcore zone's offset (-1: none). */
  private mem: Memory | null = null;
  private lcoreZone = -1;
  /** The launched lcores' idle counts now, and when the frames were first seen taken (snapshot). */
  private readonly idleNow = new Int32Array(64);
  private readonly idleAtTaken = new Int32Array(64);
  /** Lcores in the snapshot (0 = none taken); every one had gone idle since, as of the last tick. */
  private lcoresAtTaken = 0;
  private allIdleLastTick = false;

  /** Read the application's lcores' idle counts from EAL memory (cold; the device thread's constructor). */
  bindLcores(mem: Memory): void {
    this.mem = mem;
    this.lcoreZone = lcoreZoneOffset(mem);
  }

  /** `n` frames of an on-demand source were placed in a receive ring (hot). */
  produced(n: number): void {
    this.out += n;
    this.progress++;
    this.producedAny = true;
  }

  /** `n` chains were taken from a transmit ring (hot; n > 0). */
  consumed(n: number): void {
    const o = this.out - n;
    this.out = o > 0 ? o : 0;
    this.progress++;
    this.txProgress++;
  }

  /**
   * About once per ms (cold): size the window from the transmit queues the
   * drivers have enabled, and release it when nothing moved for
   * DEMAND_RELEASE_MS although the drivers took the frames.
   */
  tick(devices: readonly DemandDevice[], now: number, burst: number): void {
    if (!this.used) return;
    let min = 0;
    // Buffers the drivers of on-demand devices have not (re-)posted: frames not yet taken, or taken and not refilled.
    let unposted = 0;
    // What those drivers may hold back once every frame is taken: just under their refill thresholds.
    let heldBack = 0;
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i]!;
      if (!d.active) continue;
      for (let p = 0; p < d.activePairs; p++) {
        const tq = d.queues[2 * p + 1];
        if (tq !== undefined && tq.enabled) {
          const w = tq.size >>> 1;
          if (min === 0 || w < min) min = w;
        }
        const rq = d.queues[2 * p];
        if (d.onDemand && rq !== undefined && rq.enabled) {
          unposted += rq.size - (d.packed === true && d.pqueues ? d.pqueues[2 * p]!.availableNow() : rq.availableNow());
          heldBack += rxRefillThreshold(rq.size);
        }
      }
    }
    // No transmit queue at all: nothing to protect, only the receive rings' own limit.
    this.window = min > 0 ? min : burst;
    const dt = this.lastTick === 0 ? 0 : now - this.lastTick;
    this.lastTick = now;
    if (this.txProgress !== 0 && this.producedAny) this.forwarding = true;
    this.txProgress = 0;
    const refilled = unposted !== this.lastUnposted;
    this.lastUnposted = unposted;
    if (this.progress !== 0 || this.out === 0 || refilled) {
      this.progress = 0;
      this.idleMs = 0;
      this.lcoresAtTaken = 0;
      return;
    }
    this.idleMs += dt < MAX_IDLE_STEP_MS ? dt : MAX_IDLE_STEP_MS;
    // Taken: all but what a driver holds back until its refill threshold is posted again. A window
    // smaller than those thresholds cannot tell frames still waiting in the rings from frames taken and
    // held back: the launched lcores' idle counts decide then; without lcores time decides, and only
    // once fewer buffers are unposted than a window (a whole window waiting is never taken for taken).
    let taken = !this.forwarding && unposted < heldBack;
    if (taken) {
      const idle = this.lcoresIdle();
      taken = idle ?? (unposted < this.window && this.idleMs >= (this.releases === 0 ? DEMAND_FIRST_RELEASE_MS : DEMAND_RELEASE_MS));
    } else this.lcoresAtTaken = 0;
    if (taken) this.releases++;
    if (taken || this.idleMs >= DEMAND_RELEASE_ANYWAY_MS) {
      this.out = 0;
      this.idleMs = 0;
      this.lcoresAtTaken = 0;
    }
  }

  /**
   * Frames taken, nothing moved: have the launched lcores all gone idle since
   * the frames were first seen taken, as of the previous tick? undefined when
   * no lcore runs (then time decides). The first call of such a stretch takes
   * the snapshot.
   */
  private lcoresIdle(): boolean | undefined {
    const n = this.mem === null ? 0 : launchedLcoreIdle(this.mem, this.lcoreZone, this.idleNow);
    if (n === 0) return undefined;
    if (this.lcoresAtTaken !== n) {
      this.idleAtTaken.set(this.idleNow);
      this.lcoresAtTaken = n;
      this.allIdleLastTick = false;
      return false;
    }
    const release = this.allIdleLastTick;
    let all = true;
    for (let k = 0; k < n; k++) if (this.idleNow[k] === this.idleAtTaken[k]) all = false;
    this.allIdleLastTick = all;
    return release;
  }
}

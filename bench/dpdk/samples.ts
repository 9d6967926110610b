/**
 * The generating testpmd's port statistics, as it prints them every second
 * (`--stats-period=1`), turned into rates. The delivered rate of a
 * vhost-user pair is the generator port's RX-packets: the frames that made
 * the round trip through whichever forwarder faces it.
 */

/** One periodic statistics block: when it arrived (performance.now(), ms) and the port's cumulative RX-packets. */
export interface RxSample {
  t: number;
  rx: number;
}

/**
 * Splits testpmd's stdout into lines (chunks end anywhere) and keeps one
 * sample per periodic block: "RX-packets: N   RX-missed: M   RX-bytes: B".
 * The final forward statistics say RX-dropped instead, and are not samples.
 */
export class RxSampler {
  readonly samples: RxSample[] = [];
  private partial = "";

  /** Feed a chunk of stdout received at time `t` (ms). */
  push(chunk: string, t: number): void {
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop()!;
    for (const l of lines) {
      const m = /RX-packets:\s+(\d+)\s+RX-missed:/.exec(l);
      if (m) this.samples.push({ t, rx: Number(m[1]) });
    }
  }

  /** Frames have come back (the last sample counts some). */
  get flowing(): boolean {
    return this.flowingSince(0);
  }

  /**
   * Frames have come back since sample `from` was due: the last sample
   * counts more than the one before `from` (0 when there is none). A
   * back-end faced by one front-end after another keeps its count between
   * them, so a new front-end's frames are what moves it past that.
   */
  flowingSince(from: number): boolean {
    const n = this.samples.length;
    const before = from > 0 ? (this.samples[from - 1]?.rx ?? 0) : 0;
    return n > from && this.samples[n - 1]!.rx > before;
  }
}

export interface WindowRate {
  /** Delivered frames per second from sample `from` to the last one. */
  pps: number;
  /** Seconds between those two samples. */
  windowS: number;
  /** Per-second rates inside the window (Mpps), one per pair of consecutive samples. */
  perSecond: number[];
}

/** The rate from samples[from] to the last sample; null when fewer than 0.5 s lie between them. */
export function windowRate(samples: readonly RxSample[], from: number): WindowRate | null {
  const a = samples[from];
  const b = samples[samples.length - 1];
  if (!a || !b) return null;
  const windowS = (b.t - a.t) / 1000;
  if (!(windowS > 0.5)) return null;
  const perSecond: number[] = [];
  for (let i = from + 1; i < samples.length; i++) {
    const dt = (samples[i]!.t - samples[i - 1]!.t) / 1000;
    if (dt > 0) perSecond.push((samples[i]!.rx - samples[i - 1]!.rx) / dt / 1e6);
  }
  return { pps: (b.rx - a.rx) / windowS, windowS, perSecond };
}

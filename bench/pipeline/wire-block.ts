import type { Memory } from "@tpdk/eal";
import { snapshotWireStats } from "@tpdk/vhost";

/**
 * The harness's view of a wire's statistics: raw snapshots from @tpdk/vhost's
 * snapshotWireStats (counters and a copy of the latency histogram), so a
 * window's figures are the difference of two snapshots (histWindow for the
 * latency) and the warm-up drops out.
 */
export interface WireSnapshot {
  generated: number;
  missed: number;
  received: number;
  lost: number;
  reordered: number;
  duplicated: number;
  badChecksum: number;
  /** The latency histogram (vhost's histWindow reads it); null unless asked for. */
  hist: Float64Array | null;
}

/** Snapshot a gen or sink wire's counters (and histogram, when `withHist`: the sink has latency=1). */
export function snapshotWire(mem: Memory, statsOffset: number, kind: "gen" | "sink", withHist: boolean): WireSnapshot {
  const { stats: s, hist } = snapshotWireStats(mem, statsOffset);
  if (s.kind !== kind) throw new Error(`bench: the wire at ${statsOffset} is ${s.kind}, expected ${kind}`);
  if (withHist && !hist) throw new Error("bench: the sink records no latency (latency=1 not applied?)");
  return {
    generated: s.generated,
    missed: s.missed,
    received: s.received,
    lost: s.lost,
    reordered: s.reordered,
    duplicated: s.duplicated,
    badChecksum: s.badChecksum,
    hist: withHist ? hist : null,
  };
}

import type { Memory } from "@tpdk/eal";
import { type EthStats, type XStat, sumStats, xstatsOf } from "./stats.js";

/**
 * A port's statistics as the app reads them (rte_eth_stats_get, xstats_get,
 * stats_reset), main thread. The counters live in the queue zones and belong
 * to the lcores (single writer): a reset records a baseline here instead of
 * writing them, and every read subtracts it.
 */
export class PortStats {
  readonly #mem: Memory;
  #baseline = new Map<string, number>();

  constructor(mem: Memory) {
    this.#mem = mem;
  }

  /** Counters since probe or the last reset(). imissed: frames the device dropped are the device's to count (0 here). */
  stats(rxZones: readonly number[], txZones: readonly number[]): EthStats {
    const s = sumStats(this.#mem, rxZones, txZones);
    const b = this.#baseline;
    return {
      ipackets: s.ipackets - (b.get("ipackets") ?? 0),
      opackets: s.opackets - (b.get("opackets") ?? 0),
      ibytes: s.ibytes - (b.get("ibytes") ?? 0),
      obytes: s.obytes - (b.get("obytes") ?? 0),
      imissed: 0,
      ierrors: s.ierrors - (b.get("ierrors") ?? 0),
      oerrors: s.oerrors - (b.get("oerrors") ?? 0),
      rx_nombuf: s.rx_nombuf - (b.get("rx_nombuf") ?? 0),
    };
  }

  /** Per-queue counters by DPDK's virtio names, then the port's own (`portCounters`, main-thread ones). */
  xstats(rxZones: readonly number[], txZones: readonly number[], portCounters: readonly XStat[]): XStat[] {
    return this.#raw(rxZones, txZones, portCounters).map((x) => ({ name: x.name, value: x.value - (this.#baseline.get("x." + x.name) ?? 0) }));
  }

  /** Record the baseline: every counter reads 0 from now on. */
  reset(rxZones: readonly number[], txZones: readonly number[], portCounters: readonly XStat[]): void {
    const s = sumStats(this.#mem, rxZones, txZones);
    this.#baseline = new Map(Object.entries(s));
    for (const x of this.#raw(rxZones, txZones, portCounters)) this.#baseline.set("x." + x.name, x.value);
  }

  #raw(rxZones: readonly number[], txZones: readonly number[], portCounters: readonly XStat[]): XStat[] {
    const out = xstatsOf(this.#mem, rxZones, txZones);
    for (const x of portCounters) out.push({ name: x.name, value: x.value });
    return out;
  }
}

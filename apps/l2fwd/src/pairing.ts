import { UsageError } from "@tpdk/eal";

/**
 * Which port forwards to which, and which lcore polls which ports: the same
 * decisions DPDK's l2fwd makes in main() before launching its lcores.
 */

/** Ports selected by the mask, ascending. Every one must exist. */
export function enabledPorts(portmask: number, nbPorts: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < 32; p++) {
    if (Math.floor(portmask / 2 ** p) % 2 === 1) {
      if (p >= nbPorts) {
        throw new UsageError(
          `-p: portmask 0x${portmask.toString(16)} names port ${p}, but only ${nbPorts} port(s) exist (${nbPorts === 0 ? "none" : `0..${nbPorts - 1}`}); add a --vdev or fix the mask`,
        );
      }
      out.push(p);
    }
  }
  return out;
}

export interface Destinations {
  /** dst[p] = the port that frames received on p are sent out of (-1: p not enabled). */
  readonly dst: number[];
  /** Human-readable notices (an odd port forwarding to itself), printed by the app. */
  readonly notices: string[];
}

/**
 * Consecutive enabled ports pair up (0<->1, 2<->3); an odd last port forwards
 * to itself. With --portmap, the given pairs (each port at most once, every
 * port enabled), and enabled ports left out are an error, as in DPDK.
 */
export function destinations(enabled: readonly number[], portmap: ReadonlyArray<readonly [number, number]>, nbPorts: number): Destinations {
  const dst = new Array<number>(nbPorts).fill(-1);
  const notices: string[] = [];
  if (portmap.length > 0) {
    const seen = new Set<number>();
    for (const [a, b] of portmap) {
      for (const p of [a, b]) {
        if (!enabled.includes(p)) throw new UsageError(`--portmap: port ${p} is not enabled by -p; add it to the portmask or change the pair`);
      }
      if (seen.has(a) || seen.has(b) || a === b) throw new UsageError(`--portmap: port ${seen.has(a) || a === b ? a : b} appears in more than one pair`);
      seen.add(a);
      seen.add(b);
      dst[a] = b;
      dst[b] = a;
    }
    const missing = enabled.filter((p) => !seen.has(p));
    if (missing.length > 0) throw new UsageError(`--portmap: enabled port(s) ${missing.join(",")} are in no pair; pair them or remove them from -p`);
    return { dst, notices };
  }
  for (let i = 0; i < enabled.length; i += 2) {
    const a = enabled[i]!;
    const b = enabled[i + 1];
    if (b === undefined) {
      dst[a] = a;
      notices.push(`Notice: odd number of ports in portmask; port ${a} forwards to itself`);
    } else {
      dst[a] = b;
      dst[b] = a;
    }
  }
  return { dst, notices };
}

/**
 * Hand each enabled port's RX to an lcore, at most `perLcore` ports each, in
 * lcore order (DPDK's rx_lcore_id walk). Returns ports per lcore id.
 */
export function assignLcores(enabled: readonly number[], lcores: readonly number[], perLcore: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const l of lcores) out.set(l, []);
  let li = 0;
  for (const p of enabled) {
    while (li < lcores.length && out.get(lcores[li]!)!.length >= perLcore) li++;
    if (li >= lcores.length) {
      throw new UsageError(
        `not enough lcores: ${enabled.length} port(s) at -q ${perLcore} per lcore need ${Math.ceil(enabled.length / perLcore)} lcore(s), -l gives ${lcores.length}; add lcores or raise -q`,
      );
    }
    out.get(lcores[li]!)!.push(p);
  }
  for (const [l, ps] of out) if (ps.length === 0) out.delete(l);
  return out;
}

/** l2fwd's MAC update: destination 02:00:00:00:00:<dst port id>. */
export function l2fwdDestinationMac(dstPort: number): number[] {
  return [0x02, 0, 0, 0, 0, dstPort & 0xff];
}

import type { Memory } from "@tpdk/eal";

/**
 * l2fwd's per-port counters (DPDK's port_statistics): packets sent, received
 * and dropped. They live in shared memory, one Float64 slot each, so lcores
 * write them and the main thread prints them. Each slot has ONE writer: the
 * lcore polling port p writes rx[p]; the lcore sending out of port p (the one
 * polling p's partner) writes tx[p] and dropped[p]. Plain stores suffice: a
 * reader may see a value one burst old, never a torn one (aligned f64).
 */
export const STATS_ZONE = "l2fwd:stats";
const SLOTS_PER_PORT = 4; // tx, rx, dropped, pad
export const STAT_TX = 0;
export const STAT_RX = 1;
export const STAT_DROPPED = 2;

export function reserveStats(mem: Memory, nbPorts: number): number {
  return mem.reserve(STATS_ZONE, Math.max(1, nbPorts) * SLOTS_PER_PORT * 8, 64).offset;
}

/** Index into mem.f64 of port p's counter `which`. */
export function statIndex(statsOffset: number, port: number, which: number): number {
  return (statsOffset >>> 3) + port * SLOTS_PER_PORT + which;
}

export interface PortCounters {
  readonly port: number;
  readonly rx: number;
  readonly tx: number;
  readonly dropped: number;
}

/** What the port's device and wire counted (for --json): frames missed for want of an RX buffer, frames the wire took. */
export interface WireCounters {
  readonly missed: number;
  readonly delivered: number;
}

export function readCounters(mem: Memory, statsOffset: number, ports: readonly number[]): PortCounters[] {
  return ports.map((port) => ({
    port,
    tx: mem.f64[statIndex(statsOffset, port, STAT_TX)]!,
    rx: mem.f64[statIndex(statsOffset, port, STAT_RX)]!,
    dropped: mem.f64[statIndex(statsOffset, port, STAT_DROPPED)]!,
  }));
}

/** DPDK's l2fwd statistics block, printed every -T seconds and at exit. */
export function formatTable(now: readonly PortCounters[], clearScreen: boolean): string {
  const lines: string[] = [];
  if (clearScreen) lines.push("\x1b[2J\x1b[1;1H");
  lines.push("\nPort statistics ====================================");
  let tx = 0;
  let rx = 0;
  let dropped = 0;
  for (const c of now) {
    lines.push(`\nStatistics for port ${c.port} ------------------------------`);
    lines.push(`Packets sent: ${pad(c.tx)}`);
    lines.push(`Packets received: ${pad(c.rx, 20)}`);
    lines.push(`Packets dropped: ${pad(c.dropped, 21)}`);
    tx += c.tx;
    rx += c.rx;
    dropped += c.dropped;
  }
  lines.push("\nAggregate statistics ===============================");
  lines.push(`Total packets sent: ${pad(tx, 18)}`);
  lines.push(`Total packets received: ${pad(rx, 14)}`);
  lines.push(`Total packets dropped: ${pad(dropped, 15)}`);
  lines.push("====================================================");
  return lines.join("\n");
}

/** --json: one object per period, counters cumulative, rates over the last period. */
export function formatJson(
  t: number,
  now: readonly PortCounters[],
  prev: readonly PortCounters[],
  dt: number,
  wires: readonly WireCounters[] = [],
): string {
  let tx = 0;
  let rx = 0;
  let dropped = 0;
  const ports = now.map((c, i) => {
    const p = prev[i];
    tx += c.tx;
    rx += c.rx;
    dropped += c.dropped;
    return {
      port: c.port,
      rx: c.rx,
      tx: c.tx,
      dropped: c.dropped,
      rx_pps: p && dt > 0 ? Math.round((c.rx - p.rx) / dt) : 0,
      tx_pps: p && dt > 0 ? Math.round((c.tx - p.tx) / dt) : 0,
      ...(wires[i] ? { missed: wires[i]!.missed, wire_delivered: wires[i]!.delivered } : {}),
    };
  });
  return JSON.stringify({ t: Math.round(t * 1000) / 1000, ports, total: { rx, tx, dropped } });
}

function pad(n: number, width = 24): string {
  return String(n).padStart(width);
}

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

/**
 * What the port's driver, device and wire counted, beside l2fwd's own
 * counters (for --json and the fault lines of the table).
 */
export interface WireCounters {
  /** Frames the port's device dropped for want of an RX buffer. */
  readonly missed: number;
  /** Frames sent out of the port that its wire took and wrote out (sent = delivered + wireWriteErrors). */
  readonly delivered: number;
  /** RX mbufs the driver could not allocate to refill its ring (DPDK's rx_nombuf: mbufs, not frames). */
  readonly rxNombuf?: number;
  /** txBurst calls on the port that found the TX ring full (events, not frames: the frames are in `dropped`). */
  readonly txRingFull?: number;
  /** Frames the wire took but failed to write out (tx_pcap on a full disk, a udp send error). */
  readonly wireWriteErrors?: number;
  /** Why the last write failed (ENOSPC, EACCES, ...; "socket closed"), when one did. */
  readonly wireLastWriteError?: string | null;
  /** vhost-user ports (net_vhost, net_virtio_user): the xstats that are not zero (descriptor errors by kind, connections, protocol errors, frames a ring reset dropped...), for --json. */
  readonly xstats?: Readonly<Record<string, number>>;
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
export function formatTable(now: readonly PortCounters[], clearScreen: boolean, wires: readonly WireCounters[] = []): string {
  const lines: string[] = [];
  if (clearScreen) lines.push("\x1b[2J\x1b[1;1H");
  lines.push("\nPort statistics ====================================");
  let tx = 0;
  let rx = 0;
  let dropped = 0;
  now.forEach((c, i) => {
    lines.push(`\nStatistics for port ${c.port} ------------------------------`);
    lines.push(`Packets sent: ${pad(c.tx)}`);
    lines.push(`Packets received: ${pad(c.rx, 20)}`);
    lines.push(`Packets dropped: ${pad(c.dropped, 21)}`);
    // Faults, only when they happened (DPDK's table has none of these).
    const w = wires[i];
    // imissed: frames the device had no RX buffer for (the lcore was late), so generated = received + missed.
    if (w?.missed) lines.push(`Packets missed: ${pad(w.missed, 22)}`);
    if (w?.rxNombuf) lines.push(`RX mbuf alloc failures: ${pad(w.rxNombuf, 14)}`);
    if (w?.txRingFull) lines.push(`TX ring full: ${pad(w.txRingFull)}`);
    if (w?.wireWriteErrors) lines.push(`Wire write errors: ${pad(w.wireWriteErrors, 19)}`);
    tx += c.tx;
    rx += c.rx;
    dropped += c.dropped;
  });
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
      ...(wires[i] ? wireFields(wires[i]!) : {}),
    };
  });
  return JSON.stringify({ t: Math.round(t * 1000) / 1000, ports, total: { rx, tx, dropped } });
}

function wireFields(w: WireCounters): Record<string, number | Readonly<Record<string, number>>> {
  const o: Record<string, number | Readonly<Record<string, number>>> = { missed: w.missed, wire_delivered: w.delivered };
  if (w.rxNombuf !== undefined) o.rx_nombuf = w.rxNombuf;
  if (w.txRingFull !== undefined) o.tx_ring_full = w.txRingFull;
  if (w.wireWriteErrors !== undefined) o.wire_write_errors = w.wireWriteErrors;
  if (w.xstats !== undefined) o.xstats = w.xstats;
  return o;
}

function pad(n: number, width = 24): string {
  return String(n).padStart(width);
}

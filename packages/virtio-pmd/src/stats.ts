import type { Memory } from "@tpdk/eal";
import {
  Q_QUEUE,
  Q_STATS,
  Q_STATS_SLOTS,
  S_BAD_NUM_BUFFERS,
  S_BAD_USED_ID,
  S_BAD_USED_IDX,
  S_BAD_USED_LEN,
  S_BROADCAST,
  S_BYTES,
  S_ERRORS,
  S_INTERRUPTS,
  S_KICKS,
  S_MULTICAST,
  S_NOMBUF,
  S_PACKETS,
  S_RUNTS,
  S_SIZE_BINS,
  S_TRUNCATED,
  S_TX_CHAINED,
  S_TX_FULL,
  S_TX_INDIRECT,
  S_TX_OVERSIZE,
  S_TX_PUSH,
  S_RESET_DROPPED,
} from "./layout.js";

/** rte_eth_stats (the fields tpdk fills), by DPDK's names. */
export interface EthStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  /** Frames the device dropped for lack of posted buffers: the device's to count; the driver cannot see them (0). */
  imissed: number;
  ierrors: number;
  oerrors: number;
  rx_nombuf: number;
}

export interface XStat {
  name: string;
  value: number;
}

/** Per-queue xstats, in DPDK's virtio order and names (rx_qN_<name> / tx_qN_<name>), then tpdk's. */
const COMMON: readonly [string, number][] = [
  ["good_packets", S_PACKETS],
  ["good_bytes", S_BYTES],
  ["errors", S_ERRORS],
  ["multicast_packets", S_MULTICAST],
  ["broadcast_packets", S_BROADCAST],
  ["undersize_packets", S_SIZE_BINS + 0],
  ["size_64_packets", S_SIZE_BINS + 1],
  ["size_65_127_packets", S_SIZE_BINS + 2],
  ["size_128_255_packets", S_SIZE_BINS + 3],
  ["size_256_511_packets", S_SIZE_BINS + 4],
  ["size_512_1023_packets", S_SIZE_BINS + 5],
  ["size_1024_1518_packets", S_SIZE_BINS + 6],
  ["size_1519_max_packets", S_SIZE_BINS + 7],
  ["kicks", S_KICKS],
];

export const RX_XSTATS: readonly [string, number][] = [
  ...COMMON,
  ["mbuf_alloc_failed", S_NOMBUF],
  ["runt_packets", S_RUNTS],
  ["truncated_packets", S_TRUNCATED],
  ["bad_num_buffers", S_BAD_NUM_BUFFERS],
  ["bad_used_id", S_BAD_USED_ID],
  ["bad_used_len", S_BAD_USED_LEN],
  ["bad_used_idx", S_BAD_USED_IDX],
  ["interrupts", S_INTERRUPTS],
  ["reset_dropped_packets", S_RESET_DROPPED],
];

export const TX_XSTATS: readonly [string, number][] = [
  ...COMMON,
  ["push_packets", S_TX_PUSH],
  ["indirect_packets", S_TX_INDIRECT],
  ["chained_packets", S_TX_CHAINED],
  ["ring_full", S_TX_FULL],
  ["oversize_packets", S_TX_OVERSIZE],
  ["reset_dropped_packets", S_RESET_DROPPED],
  ["bad_used_id", S_BAD_USED_ID],
  ["bad_used_idx", S_BAD_USED_IDX],
];

/** A snapshot of one queue's counters (Float64 slots S_*). */
export function readQueueStats(mem: Memory, zone: number): Float64Array {
  const base = (zone + Q_STATS) >>> 3;
  return mem.f64.slice(base, base + Q_STATS_SLOTS);
}

export function sumStats(mem: Memory, rxZones: readonly number[], txZones: readonly number[]): EthStats {
  const s: EthStats = { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rx_nombuf: 0 };
  for (const z of rxZones) {
    const q = readQueueStats(mem, z);
    s.ipackets += q[S_PACKETS]!;
    s.ibytes += q[S_BYTES]!;
    s.ierrors += q[S_ERRORS]!;
    s.rx_nombuf += q[S_NOMBUF]!;
  }
  for (const z of txZones) {
    const q = readQueueStats(mem, z);
    s.opackets += q[S_PACKETS]!;
    s.obytes += q[S_BYTES]!;
    s.oerrors += q[S_ERRORS]!;
  }
  return s;
}

export function xstatsOf(mem: Memory, rxZones: readonly number[], txZones: readonly number[]): XStat[] {
  const out: XStat[] = [];
  for (const [zones, names, prefix] of [
    [rxZones, RX_XSTATS, "rx"],
    [txZones, TX_XSTATS, "tx"],
  ] as const) {
    for (const z of zones) {
      const q = readQueueStats(mem, z);
      const id = mem.u32[(z + Q_QUEUE) >>> 2]!;
      for (const [name, slot] of names) out.push({ name: `${prefix}_q${id}_${name}`, value: q[slot]! });
    }
  }
  return out;
}

/**
 * DPDK's size bin for a frame of `s` bytes: 0 <64, 1 =64, 2 65-127,
 * 3 128-255, 4 256-511, 5 512-1023, 6 1024-1518, 7 >=1519. Allocation-free.
 */
export function sizeBin(s: number): number {
  if (s === 64) return 1;
  if (s > 64 && s < 1024) return 27 - Math.clz32(s); // 32 - clz - 5
  if (s < 64) return 0;
  return s < 1519 ? 6 : 7;
}

/**
 * What one pipeline run is asked to do (RunConfig, the parent's JSON argument
 * to run-one) and what it answers (RunResult, one JSON line). Plain data:
 * both cross a process boundary.
 */

export type TxPath = "chained" | "push" | "indirect";
export const TX_PATHS: readonly TxPath[] = ["chained", "push", "indirect"];

/** throughput: the generator is unpaced (offers more than the pipeline takes); latency: paced at `rate`. */
export type RunKind = "throughput" | "latency";

export interface RunConfig {
  readonly kind: RunKind;
  /** l2fwd's burst: rxBurst size and TX buffer size (1..64). */
  readonly burst: number;
  /** The driver's tx_mode on the transmitting port. */
  readonly txPath: TxPath;
  /** Ethernet frame size including the 4-byte FCS, as on a wire (64..1518). */
  readonly frameSize: number;
  /** Driver in_order= / mrg_rxbuf= on both ports (true: required, false: refused). */
  readonly inOrder: boolean;
  readonly mrgRxbuf: boolean;
  /** Driver event_idx=; null: take it if the device offers it. */
  readonly eventIdx: boolean | null;
  /** Descriptors per queue (queue_size=, also the RX/TX ring size l2fwd asks for). */
  readonly queueSize: number;
  /** Offered frames per second (latency runs); null = unpaced. */
  readonly rate: number | null;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** EAL shared memory, MB. */
  readonly memoryMb: number;
}

import type { GcMark } from "./gc-probe.cjs";

/** Counters of one measurement window (deltas between two snapshots). */
export interface WindowCounters {
  /** Frames the sink wire received (delivered end to end). */
  delivered: number;
  /** Frames the gen wire offered (produced into RX buffers + missed). */
  generated: number;
  /** Offered frames the device dropped because no RX buffer was posted (backpressure). */
  rxMissed: number;
  /** l2fwd: frames received, sent, dropped (TX ring full). */
  l2fwdRx: number;
  l2fwdTx: number;
  l2fwdDropped: number;
  /** Device-side TX chains dropped (malformed, link down). */
  txDropped: number;
  /** Sink: sequence gaps, reordered, duplicated, bad checksum (should be 0 but for gaps from rxMissed). */
  lost: number;
  reordered: number;
  duplicated: number;
  /** Transport counters of both devices: available-buffer kicks, register traps, used-buffer interrupts. */
  kicks: number;
  traps: number;
  interrupts: number;
  /** Driver TX path use on the transmitting queue. */
  txPush: number;
  txIndirect: number;
  txChained: number;
  txRingFull: number;
}

export interface LatencyStats {
  /** Frames whose latency was recorded in the window. */
  count: number;
  /** µs. */
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Garbage collections per thread (main = the run-one main thread). */
export interface GcCounts {
  main: number;
  lcore: number;
  device: number;
  /** Longest pause among them, ms. */
  maxPauseMs: number;
}

export interface RunResult {
  readonly config: RunConfig;
  /** Measurement window length, ms (main-thread clock). */
  windowMs: number;
  w: WindowCounters;
  /** Delivered frames per second (sink), and what follows from it. */
  mpps: number;
  /** Wire rate of the delivered frames: (frameSize + 20 bytes preamble/SFD/IFG) * 8 * pps. */
  gbps: number;
  /** Wall time per delivered frame, ns (1e9 / pps). */
  nsPerPacket: number;
  /**
   * CPU time the run's process got in the window / (2 x window): about 1
   * when both busy threads had their CPU to themselves; lower when other
   * processes took turns on those CPUs (the run is then not representative).
   */
  cpuShare: number;
  /** Attempts this result took (set by the parent: runs that shared their CPUs are retried). */
  attempts: number;
  kicksPerPacket: number;
  trapsPerPacket: number;
  interruptsPerPacket: number;
  /** Frames the pipeline took in but did not deliver: (l2fwd dropped + device TX dropped) / l2fwd rx, %. */
  lossPct: number;
  /** Offered frames that found no RX buffer, % of generated (unpaced runs: the excess offer). */
  rxMissPct: number;
  /** End-to-end loss of the paced runs: sink sequence gaps / generated, %. */
  e2eLossPct: number;
  /** l2fwd loop passes per second and received frames per pass (whole run). */
  passesPerSec: number;
  pktsPerPass: number;
  /** The device thread's passes per second and frames delivered per device pass (the window; absent in older results). */
  devicePassesPerSec?: number;
  deviceFramesPerPass?: number;
  latency: LatencyStats | null;
  /**
   * GCs inside the measurement window and over the whole run, per thread
   * (filled in by the parent from the child's --trace-gc output, see
   * trace-gc.ts); gcComplete is false when some thread's GCs could not be
   * attributed.
   */
  gcWindow: GcCounts;
  gcTotal: GcCounts;
  gcComplete: boolean;
  /** The measurement window in wall-clock ms since the epoch, and each thread's GC mark (gc-probe.cts). */
  windowEpochMs: [number, number];
  gcMarks: GcMark[];
  /** Features the ports negotiated (names), from the transmitting port. */
  features: string[];
  /** Pinning as it happened: lcore CPU and device CPU (-1: unpinned). */
  lcoreCpu: number;
  deviceCpu: number;
  pinned: boolean;
  /** 1-minute load average when the run started. */
  loadavg: number;
}

/** The line run-one writes on fd 3 (stdout when fd 3 is not open), after this prefix. */
export const RESULT_PREFIX = "TPDK-BENCH-RESULT ";

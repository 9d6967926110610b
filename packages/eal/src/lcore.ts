import type { MessagePort } from "node:worker_threads";
import type { Backoff } from "./backoff.js";
import type { Memory } from "./memory.js";

/**
 * What an lcore entry function receives (one per lcore, built once on its
 * thread). Entry functions are `export async function NAME(ctx, arg)` in an
 * ES module; their return value must be structured-cloneable.
 */
export interface LcoreContext {
  readonly lcoreId: number;
  /** The CPU this lcore was meant to run on (== lcoreId, DPDK -l semantics). */
  readonly cpu: number;
  /** True when the thread is pinned to `cpu`. */
  readonly pinned: boolean;
  /** EAL memory, attached on this thread. */
  readonly mem: Memory;
  /** `--busy-poll`: backoff.idle() never sleeps. */
  readonly busyPoll: boolean;
  /** True once eal.stop() was called. One Atomics.load: check once per loop pass or less often. */
  stopped(): boolean;
  /** This lcore's idle policy; sleeps on the lcore's wake word (see lcoreWakeIndex). */
  readonly backoff: Backoff;
}

/** How an lcore thread started (eal.lcoreInfo(), launch() result). */
export interface LcoreInfo {
  readonly lcoreId: number;
  readonly cpu: number;
  /** Kernel thread id (-1 if unknown). */
  readonly tid: number;
  readonly pinned: boolean;
  /** Affinity list read back after pinning, e.g. "1" or "0-1". */
  readonly affinity: string;
  /** Why the lcore is unpinned. */
  readonly reason?: string;
}

/** The task that becomes one lcore thread (Eal.init -> lcore-worker.ts). Structured-cloned; `port` is transferred. */
export interface LcoreThreadTask {
  sab: SharedArrayBuffer;
  lcoreId: number;
  cpu: number;
  pin: boolean;
  busyPoll: boolean;
  /** Modules imported before the thread reports ready (file: URLs). */
  preload: string[];
  /** Commands in (LcoreCommand), replies out (LcoreReply). */
  port: MessagePort;
}

/** Main -> lcore thread. */
export type LcoreCommand =
  | { t: "run"; url: string; exportName: string; arg: unknown }
  | { t: "exit" };

/** Lcore thread -> main. */
export type LcoreReply =
  | { t: "ready"; info: LcoreInfo; loadError?: string }
  | { t: "started" }
  | { t: "done"; result: LcoreResult };

/** Result of one launch on one lcore (worker -> main). Errors travel as data so code and message survive. */
export type LcoreResult =
  | { ok: true; value: unknown; info: LcoreInfo }
  | {
      ok: false;
      message: string;
      code: string;
      stack: string;
      info: LcoreInfo | null;
      /** The entry function had been called (the start report was posted) before it failed. */
      started: boolean;
    };

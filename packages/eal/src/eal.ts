import { createRequire } from "node:module";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import type { Piscina } from "piscina";
import { resolveEalOptions, type EalOptions } from "./args.js";
import { Backoff } from "./backoff.js";
import { CTRL_LAUNCHED, CTRL_LAUNCH_MASK_HI, CTRL_LAUNCH_MASK_LO, CTRL_LAUNCH_PENDING, CTRL_STOP, lcoreWakeIndex, reserveControlZone } from "./control.js";
import { TpdkError } from "./errors.js";
import type { LcoreCommand, LcoreInfo, LcoreReply, LcoreResult, LcoreThreadTask } from "./lcore.js";
import { Memory } from "./memory.js";
import { closeSharedMemoryFd, createSharedMemory, type SharedMemory } from "./shared-memory.js";
import { allowedCpus, warnUnpinnedOnce } from "./pin.js";
import { installSignalHandlers, type SignalHandler } from "./signals.js";
import { trackThreadsLoading } from "./threads-loading.js";

/** Compiled worker entry; the same URL works from src/ (tests) and dist/. */
const LCORE_WORKER_URL = new URL("../dist/lcore-worker.js", import.meta.url);

/**
 * piscina's pool class, required when an Eal makes its pool, not when this module loads: every thread
 * that imports @tpdk/eal (the device thread, each lcore thread's forwarding loop) would otherwise
 * load and compile piscina's pool (its CommonJS module graph and the node builtins it requires)
 * without ever making a pool: CPU each thread's start-up pays, and on a loaded machine start-up
 * takes its CPU divided by the share the scheduler gives it (apps/l2fwd/README.md, "Start-up
 * under load, the phases"). Node's require cache keeps the module after the first call.
 */
function piscinaPool(): typeof Piscina {
  return (createRequire(import.meta.url)("piscina") as { Piscina: typeof Piscina }).Piscina;
}

interface Run {
  /** Resolves with every lcore's return value in lcore order, or rejects with the first failure. */
  done: Promise<unknown[]>;
  running: boolean;
}

/** The main thread's end of one lcore thread. */
interface LcoreThread {
  readonly lcoreId: number;
  readonly port: MessagePort;
  /** Where the thread's replies go (the operation under way), or null. */
  on: ((r: LcoreReply) => void) | null;
  /** Settles when the thread's task ends (with the error if it failed). */
  readonly ended: Promise<unknown>;
}

/** How Eal.init prepares the lcore threads. */
export interface LcoreThreadOptions {
  /**
   * Modules (paths or URLs) every lcore thread imports at init, before it
   * reports ready: typically the module whose entry function launch() will
   * run, so that the launch finds it loaded and compiled.
   */
  preload?: readonly (string | URL)[];
}

/**
 * The environment abstraction layer of one process (rte_eal_init and the
 * lcore launch API). Main thread only.
 *
 *   Eal.init(opts)  -> memory, lcore list, control zone, and one pinned worker
 *                      thread per lcore, waiting for work (modules preloaded)
 *   eal.ready()     -> every lcore thread is pinned and has its modules loaded
 *   eal.launch(...) -> a message to each waiting thread: run the entry function
 *   eal.stop()      -> lcores see ctx.stopped() and return
 *   eal.wait()      -> their return values (or the first lcore's error)
 *   eal.close()     -> worker threads gone, signal handlers removed
 */
export class Eal {
  readonly options: EalOptions;
  readonly mem: Memory;
  /** lcore ids, sorted; lcore i runs on CPU i. */
  readonly lcores: readonly number[];
  private pool: Piscina | null = null;
  private readonly threads: LcoreThread[] = [];
  private readyP: Promise<LcoreInfo[]> = Promise.resolve([]);
  private run: Run | null = null;
  private infos: LcoreInfo[] = [];
  private removeSignals: (() => void) | null = null;
  private closed = false;
  private memFd: number;
  /** True when EAL memory is on 2 MB hugepages (sharedMemory only). */
  readonly memoryHuge: boolean;

  private constructor(options: EalOptions, shared: SharedMemory, threads: LcoreThreadOptions) {
    this.options = options;
    this.mem = shared.mem;
    this.memFd = shared.fd;
    this.memoryHuge = shared.hugepages;
    this.lcores = options.lcores;
    this.startThreads((threads.preload ?? []).map(toModuleUrl));
  }

  /**
   * The memfd under EAL memory (options.sharedMemory), to hand to another
   * process (a vhost-user back-end maps it as one region starting at bus
   * address 0); -1 for a plain SharedArrayBuffer and after close(). Owned by
   * the EAL: do not close it; the receiver gets its own copy over SCM_RIGHTS.
   */
  get memoryFd(): number {
    return this.memFd;
  }

  /**
   * Create the process's EAL: validates options (defaults filled in), creates
   * `-m` MB of shared memory, reserves the EAL control zone and starts the
   * lcore threads (they pin themselves and import `threads.preload`; await
   * ready() to know they have). With `sharedMemory` the memory is a memfd
   * another process can map (see shared-memory.ts; hugepages first unless
   * `noHuge`); without it, Memory.create's page-aligned buffer (memory.ts:
   * plain JavaScript, addon or not). Throws UsageError for bad options, TpdkError ENOMEM when memory
   * cannot be had, ENOTSUP when `sharedMemory` needs the native addon and it
   * is missing.
   */
  static init(opts: Partial<EalOptions> = {}, threads: LcoreThreadOptions = {}): Eal {
    const options = resolveEalOptions(opts);
    const shared: SharedMemory = options.sharedMemory
      ? createSharedMemory(options.memoryMb, options.noHuge)
      : { mem: Memory.create(options.memoryMb * 1024 * 1024), fd: -1, hugepages: false };
    reserveControlZone(shared.mem);
    return new Eal(options, shared, threads);
  }

  /**
   * One long-running piscina task per lcore (rte_eal_init's lcore threads):
   * pool with min = max threads = lcores, one task per worker, no idle timeout.
   */
  private startThreads(preload: string[]): void {
    const n = this.lcores.length;
    const pool = new (piscinaPool())({
      filename: LCORE_WORKER_URL.href,
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      maxQueue: n,
    });
    this.pool = pool;
    const ready: Promise<LcoreInfo>[] = [];
    for (const lcoreId of this.lcores) {
      const { port1, port2 } = new MessageChannel();
      const task: LcoreThreadTask = {
        sab: this.mem.sab,
        lcoreId,
        cpu: lcoreId,
        pin: !this.options.noPin,
        busyPoll: this.options.busyPoll,
        preload,
        port: port2,
      };
      const ended = (pool.run(task, { transferList: [port2] }) as Promise<void>).then(
        () => undefined,
        (e: unknown) => e ?? new Error("thread failed"),
      );
      const th: LcoreThread = { lcoreId, port: port1, on: null, ended };
      port1.on("message", (r: LcoreReply) => th.on?.(r));
      this.threads.push(th);
      ready.push(
        new Promise<LcoreInfo>((resolve, reject) => {
          th.on = (r) => {
            if (r.t !== "ready") return;
            th.on = null;
            if (r.loadError) reject(new TpdkError("ENOENT", `lcore ${lcoreId}: ${r.loadError}`));
            else resolve(r.info);
          };
          void ended.then((e) =>
            reject(new TpdkError("ELCORE", `lcore ${lcoreId}: thread ended before it was ready${e ? `: ${errorText(e)}` : ""}`)),
          );
        }).finally(() => port1.unref()),
      );
    }
    this.readyP = Promise.all(ready).then((infos) => {
      this.infos = infos;
      const unpinned = infos.filter((i) => !i.pinned);
      if (unpinned.length > 0) {
        const ids = unpinned.map((i) => i.lcoreId).join(",");
        warnUnpinnedOnce(
          `lcore${unpinned.length > 1 ? "s" : ""} ${ids} run${unpinned.length > 1 ? "" : "s"} unpinned (${unpinned[0]!.reason}); polling threads may share a CPU`,
          this.mem,
        );
      }
      return infos;
    });
    this.readyP.catch(() => {}); // reported by ready() and launch()
    trackThreadsLoading(this.readyP);
  }

  /**
   * Resolves, with how each lcore thread started, once every one is pinned
   * and has imported the preloaded modules; rejects naming the lcore if one
   * could not (a module that fails to load). launch() waits for it too.
   */
  ready(): Promise<LcoreInfo[]> {
    return this.readyP;
  }

  /**
   * Start `exportName` from module `moduleUrl` on every lcore
   * (rte_eal_mp_remote_launch): `export async function NAME(ctx: LcoreContext, arg)`.
   * `argFor(lcoreId)` gives each lcore its argument (structured-cloneable).
   * The lcore threads already exist (Eal.init): this is one message to each,
   * and the entry functions start within a millisecond when the module was
   * preloaded. Resolves once every lcore has started it, with how each thread
   * started; rejects if an lcore cannot (missing export, an argument that
   * cannot be cloned). Then use stop() and wait().
   */
  async launch(moduleUrl: string | URL, exportName: string, argFor: (lcoreId: number) => unknown = () => undefined): Promise<LcoreInfo[]> {
    if (this.closed) throw new TpdkError("ECLOSED", "EAL is closed");
    if (this.run?.running) throw new TpdkError("EBUSY", "lcores are still running; stop() and wait() first");
    const url = toModuleUrl(moduleUrl);
    // All arguments first, each proved cloneable: if one is not, no lcore has started.
    const args = this.lcores.map((id) => argFor(id));
    for (let k = 0; k < args.length; k++) {
      try {
        structuredClone(args[k]);
      } catch (e) {
        const err = new TpdkError("ELCORE", `lcore ${this.lcores[k]}: ${errorText(e)}`);
        this.run = { running: false, done: Promise.reject(err) };
        this.run.done.catch(() => {}); // reported through wait()
        throw err;
      }
    }
    await this.readyP;
    if (this.closed) throw new TpdkError("ECLOSED", "EAL is closed");
    Atomics.store(this.mem.i32, CTRL_STOP, 0);
    // Each lcore counts itself in as it enters the entry function; the last one sets CTRL_LAUNCHED.
    Atomics.store(this.mem.i32, CTRL_LAUNCHED, 0);
    // Which lcores launch (launchedLcoreIdle reads it once CTRL_LAUNCHED is set).
    let lo = 0;
    let hi = 0;
    for (const th of this.threads) {
      if (th.lcoreId < 32) lo |= 1 << th.lcoreId;
      else hi |= 1 << (th.lcoreId - 32);
    }
    Atomics.store(this.mem.i32, CTRL_LAUNCH_MASK_LO, lo);
    Atomics.store(this.mem.i32, CTRL_LAUNCH_MASK_HI, hi);
    Atomics.store(this.mem.i32, CTRL_LAUNCH_PENDING, this.threads.length);

    let firstError: TpdkError | null = null;
    const fail = (lcoreId: number, code: string, message: string) => {
      if (!firstError) {
        firstError = new TpdkError(code, `lcore ${lcoreId}: ${message}`);
        this.stop(); // the other lcores leave their loops so wait() can finish
      }
    };

    const started: Promise<void>[] = [];
    const results: Promise<unknown>[] = [];
    for (let k = 0; k < this.threads.length; k++) {
      const th = this.threads[k]!;
      const lcoreId = th.lcoreId;
      let onStarted!: () => void;
      let onStartFailed!: (e: TpdkError) => void;
      started.push(
        new Promise<void>((resolve, reject) => {
          onStarted = resolve;
          onStartFailed = reject;
        }),
      );
      const result = new Promise<LcoreResult>((resolve) => {
        th.on = (r) => {
          if (r.t === "started") onStarted();
          else if (r.t === "done") {
            th.on = null;
            th.port.unref();
            resolve(r.result);
          }
        };
        void th.ended.then((e) =>
          resolve({ ok: false, message: `thread ended${e ? `: ${errorText(e)}` : ""}`, code: "ELCORE", stack: "", info: null, started: false }),
        );
      }).then((r) => {
        // A failure before the entry function was called rejects launch; after it, wait().
        if (!r.ok && !r.started) onStartFailed(new TpdkError(r.code, `lcore ${lcoreId}: ${r.message}`));
        else onStarted();
        return r;
      });
      results.push(
        result.then((r) => {
          if (r.ok) return r.value;
          fail(lcoreId, r.code, r.message);
          return undefined;
        }),
      );
      th.port.ref();
      th.port.postMessage({ t: "run", url, exportName, arg: args[k] } satisfies LcoreCommand);
    }

    const run: Run = { running: true, done: Promise.resolve([]) };
    run.done = Promise.all(results).then((values) => {
      run.running = false;
      if (firstError) throw firstError;
      return values;
    });
    run.done.catch(() => {}); // reported through wait()
    this.run = run;

    await Promise.all(started);
    return this.infos.slice();
  }

  /**
   * Wait for every lcore to return (rte_eal_mp_wait_lcore). Resolves with their
   * return values in lcore order; rejects with a TpdkError "lcore N: message"
   * (the failing lcore's code, or ELCORE) if one threw; the others are told to
   * stop first. Resolves [] if nothing was launched.
   */
  wait(): Promise<unknown[]> {
    return this.run ? this.run.done : Promise.resolve([]);
  }

  /** Ask all lcores to return: sets the shared stop flag and wakes sleeping lcores. */
  stop(): void {
    // Pairs with ctx.stopped() (Atomics.load) on every lcore.
    Atomics.store(this.mem.i32, CTRL_STOP, 1);
    for (const id of this.lcores) Backoff.wake(this.mem.i32, lcoreWakeIndex(this.mem, id));
  }

  /** True once stop() was called (or an lcore failed) and until the next launch. */
  stopped(): boolean {
    return Atomics.load(this.mem.i32, CTRL_STOP) !== 0;
  }

  /** How each lcore of the last launch started (pinning, thread id, affinity). */
  lcoreInfo(): LcoreInfo[] {
    return this.infos.slice();
  }

  /**
   * A CPU this process may use that no lcore runs on (for a service thread
   * such as the virtio device), or -1 when every CPU has an lcore.
   */
  serviceCpu(): number {
    for (const cpu of allowedCpus()) if (!this.lcores.includes(cpu)) return cpu;
    return -1;
  }

  /**
   * SIGINT/SIGTERM call `handler(signo)` once (2 or 15); the handler usually
   * calls eal.stop(). A second signal (the app is already stopping) exits at
   * once with 128+signo (130, 143) and a message. Replaces an earlier handler.
   */
  onSignal(handler: SignalHandler): void {
    this.removeSignals?.();
    this.removeSignals = installSignalHandlers(handler);
  }

  /**
   * Tear down: stops lcores still running (terminating threads that do not
   * return), destroys the worker pool, removes signal handlers and closes the
   * memfd (memoryFd becomes -1). Memory stays readable.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.removeSignals?.();
    this.removeSignals = null;
    if (this.run?.running) this.stop();
    const pool = this.pool;
    this.pool = null;
    if (this.run?.running) {
      // Give lcores a moment to see the stop flag before terminating them.
      await Promise.race([this.run.done.catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    for (const th of this.threads) {
      th.on = null;
      try {
        th.port.postMessage({ t: "exit" } satisfies LcoreCommand);
      } catch {
        // The thread is gone already.
      }
      th.port.close();
    }
    if (pool) await pool.destroy();
    const fd = this.memFd;
    this.memFd = -1;
    closeSharedMemoryFd(fd);
  }
}

function toModuleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^(file|data|node):/.test(m)) return m;
  return pathToFileURL(m).href;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

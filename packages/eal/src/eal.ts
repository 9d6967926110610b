import { MessageChannel } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { Piscina } from "piscina";
import { resolveEalOptions, type EalOptions } from "./args.js";
import { Backoff } from "./backoff.js";
import { CTRL_STOP, lcoreWakeIndex, reserveControlZone } from "./control.js";
import { TpdkError } from "./errors.js";
import type { LcoreInfo, LcoreResult, LcoreTask } from "./lcore.js";
import { Memory } from "./memory.js";
import { closeSharedMemoryFd, createSharedMemory, type SharedMemory } from "./shared-memory.js";
import { allowedCpus, warnUnpinnedOnce } from "./pin.js";
import { installSignalHandlers, type SignalHandler } from "./signals.js";

/** Compiled worker entry; the same URL works from src/ (tests) and dist/. */
const LCORE_WORKER_URL = new URL("../dist/lcore-worker.js", import.meta.url);

interface Run {
  /** Resolves with every lcore's return value in lcore order, or rejects with the first failure. */
  done: Promise<unknown[]>;
  running: boolean;
}

/**
 * The environment abstraction layer of one process (rte_eal_init and the
 * lcore launch API). Main thread only.
 *
 *   Eal.init(opts)  -> memory, lcore list, control zone
 *   eal.launch(...) -> one pinned worker thread per lcore runs the entry function
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
  private run: Run | null = null;
  private infos: LcoreInfo[] = [];
  private removeSignals: (() => void) | null = null;
  private closed = false;
  private memFd: number;
  /** True when EAL memory is on 2 MB hugepages (sharedMemory only). */
  readonly memoryHuge: boolean;

  private constructor(options: EalOptions, shared: SharedMemory) {
    this.options = options;
    this.mem = shared.mem;
    this.memFd = shared.fd;
    this.memoryHuge = shared.hugepages;
    this.lcores = options.lcores;
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
   * `-m` MB of shared memory and reserves the EAL control zone. With
   * `sharedMemory` the memory is a memfd another process can map (see
   * shared-memory.ts; hugepages first unless `noHuge`). Throws UsageError for
   * bad options, TpdkError ENOMEM when memory cannot be had, ENOTSUP when
   * `sharedMemory` needs the native addon and it is missing.
   */
  static init(opts: Partial<EalOptions> = {}): Eal {
    const options = resolveEalOptions(opts);
    const shared: SharedMemory = options.sharedMemory
      ? createSharedMemory(options.memoryMb, options.noHuge)
      : { mem: Memory.create(options.memoryMb * 1024 * 1024), fd: -1, hugepages: false };
    reserveControlZone(shared.mem);
    return new Eal(options, shared);
  }

  /**
   * Start `exportName` from module `moduleUrl` on every lcore
   * (rte_eal_mp_remote_launch): `export async function NAME(ctx: LcoreContext, arg)`.
   * `argFor(lcoreId)` gives each lcore its argument (structured-cloneable).
   * Resolves once every lcore has pinned itself and loaded the module, with
   * how each started; rejects if an lcore fails before that (bad module,
   * missing export). Then use stop() and wait().
   */
  async launch(moduleUrl: string | URL, exportName: string, argFor: (lcoreId: number) => unknown = () => undefined): Promise<LcoreInfo[]> {
    if (this.closed) throw new TpdkError("ECLOSED", "EAL is closed");
    if (this.run?.running) throw new TpdkError("EBUSY", "lcores are still running; stop() and wait() first");
    const url = toModuleUrl(moduleUrl);
    const n = this.lcores.length;
    // All arguments first: if argFor throws, no lcore has started yet.
    const args = this.lcores.map((id) => argFor(id));
    this.pool ??= new Piscina({
      filename: LCORE_WORKER_URL.href,
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      maxQueue: n,
    });
    Atomics.store(this.mem.i32, CTRL_STOP, 0);
    this.infos = [];

    let firstError: TpdkError | null = null;
    const fail = (lcoreId: number, code: string, message: string) => {
      if (!firstError) {
        firstError = new TpdkError(code, `lcore ${lcoreId}: ${message}`);
        this.stop(); // the other lcores leave their loops so wait() can finish
      }
    };

    const started: Promise<LcoreInfo>[] = [];
    const results: Promise<unknown>[] = [];
    for (let k = 0; k < n; k++) {
      const lcoreId = this.lcores[k]!;
      const { port1, port2 } = new MessageChannel();
      const task: LcoreTask = {
        sab: this.mem.sab,
        lcoreId,
        cpu: lcoreId,
        pin: !this.options.noPin,
        busyPoll: this.options.busyPoll,
        moduleUrl: url,
        exportName,
        arg: args[k],
        port: port2,
      };
      const result = (this.pool.run(task, { transferList: [port2] }) as Promise<LcoreResult>).then(
        (r) => r,
        (e: unknown): LcoreResult => ({
          ok: false,
          message: e instanceof Error ? e.message : String(e),
          code: "ELCORE",
          stack: e instanceof Error ? (e.stack ?? "") : "",
          info: null,
          started: false,
        }),
      );
      started.push(
        new Promise<LcoreInfo>((resolve, reject) => {
          port1.once("message", (info: LcoreInfo) => resolve(info));
          // The start report and the task's result travel on different channels, so
          // the result of an entry function that failed at once can arrive first:
          // `started` tells a failed start (reject launch) from a failed run
          // (launch resolves; wait() reports it).
          result.then((r) => {
            if (r.ok) resolve(r.info);
            else if (r.started && r.info) resolve(r.info);
            else reject(new TpdkError(r.code, `lcore ${lcoreId}: ${r.message}`));
          });
        }).finally(() => port1.close()),
      );
      results.push(
        result.then((r) => {
          if (r.ok) return r.value;
          fail(lcoreId, r.code, r.message);
          return undefined;
        }),
      );
    }

    const run: Run = { running: true, done: Promise.resolve([]) };
    run.done = Promise.all(results).then((values) => {
      run.running = false;
      if (firstError) throw firstError;
      return values;
    });
    run.done.catch(() => {}); // reported through wait()
    this.run = run;

    const infos = await Promise.all(started);
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
    if (pool) {
      if (this.run?.running) {
        // Give lcores a moment to see the stop flag before terminating them.
        await Promise.race([this.run.done.catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
      }
      await pool.destroy();
    }
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

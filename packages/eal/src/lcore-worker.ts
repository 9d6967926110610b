/**
 * Worker side of the EAL's lcores: one long-running piscina task per lcore,
 * started by Eal.init (rte_eal_init creates its lcore threads before any
 * port exists). The thread attaches EAL memory, sets its lcore id, pins
 * itself, imports the modules it was asked to preload, reports "ready", then
 * waits for commands on `task.port` (DPDK's eal_thread_loop):
 *
 *   run  {url, exportName, arg}      look up the entry, report "started", run it, report "done"
 *   exit                             return (the task ends; Eal.close then destroys the pool)
 *
 * So a launch is one message to a thread that is already pinned, with its
 * code loaded and compiled: the entry function runs well within a
 * millisecond of the launch.
 */
import type { MessagePort } from "node:worker_threads";
import { Backoff } from "./backoff.js";
import { CTRL_LAUNCHED, CTRL_LAUNCH_PENDING, CTRL_STOP, lcoreIdleIndex, lcoreWakeIndex } from "./control.js";
import { TpdkError } from "./errors.js";
import type { LcoreCommand, LcoreContext, LcoreInfo, LcoreReply, LcoreResult, LcoreThreadTask } from "./lcore.js";
import { setLcoreId } from "./lcore-id.js";
import { Memory } from "./memory.js";
import { currentAffinity, currentTid, pinCurrentThread } from "./pin.js";

export default async function lcoreThread(task: LcoreThreadTask): Promise<void> {
  const port = task.port;
  const inbox = commands(port);
  try {
    const mem = Memory.attach(task.sab);
    setLcoreId(task.lcoreId);
    const pin = task.pin
      ? pinCurrentThread(task.cpu)
      : { pinned: false, tid: currentTid(), affinity: currentAffinity(), reason: "--no-pin" };
    const info: LcoreInfo = { lcoreId: task.lcoreId, cpu: task.cpu, ...pin };
    const i32 = mem.i32;
    const ctx: LcoreContext = {
      lcoreId: task.lcoreId,
      cpu: task.cpu,
      pinned: pin.pinned,
      mem,
      busyPoll: task.busyPoll,
      stopped: () => Atomics.load(i32, CTRL_STOP) !== 0,
      backoff: new Backoff(i32, lcoreWakeIndex(mem, task.lcoreId), task.busyPoll, { idleIndex: lcoreIdleIndex(mem, task.lcoreId) }),
    };
    // idle()'s sleeping path gets type feedback now, not first in the middle of a run (Backoff.prime).
    ctx.backoff.prime();
    let loadError: string | undefined;
    for (const url of task.preload) {
      try {
        await import(url);
      } catch (e) {
        loadError ??= `cannot load ${url}: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    reply(port, { t: "ready", info, loadError });
    for (;;) {
      const cmd = await inbox.next();
      if (cmd.t === "exit") return;
      reply(port, { t: "done", result: await runEntry(port, ctx, info, cmd) });
    }
  } finally {
    port.close();
  }
}

/** One launch: the entry function's result, or its failure as data (code and message survive the trip). */
async function runEntry(
  port: MessagePort, ctx: LcoreContext, info: LcoreInfo, cmd: Extract<LcoreCommand, { t: "run" }>,
): Promise<LcoreResult> {
  let started = false;
  try {
    ctx.backoff.reset();
    const mod = (await import(cmd.url)) as Record<string, unknown>;
    const entry = mod[cmd.exportName];
    if (typeof entry !== "function") {
      throw new TpdkError("ENOENT", `${cmd.url} does not export a function named ${cmd.exportName}`);
    }
    // Delivered even if the entry function then blocks this thread for good.
    reply(port, { t: "started" });
    started = true;
    // The last lcore of the launch to get here says the launch is complete
    // (pairs with Eal.launch's stores and the devices' lcoresLaunched()).
    const i32 = ctx.mem.i32;
    if (Atomics.sub(i32, CTRL_LAUNCH_PENDING, 1) === 1) Atomics.store(i32, CTRL_LAUNCHED, 1);
    const value = await (entry as (c: LcoreContext, a: unknown) => unknown)(ctx, cmd.arg);
    return { ok: true, value, info };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const c = (err as { code?: unknown }).code;
    const code = typeof c === "string" ? c : "ELCORE";
    return { ok: false, message: err.message, code, stack: err.stack ?? "", info, started };
  } finally {
    // The first lcore to return ends the launch (its ports' wires are then not polled).
    if (started) Atomics.store(ctx.mem.i32, CTRL_LAUNCHED, 0);
  }
}

function reply(port: MessagePort, r: LcoreReply): void {
  try {
    port.postMessage(r);
  } catch (e) {
    // A return value that cannot be cloned: report that instead.
    if (r.t !== "done") throw e;
    const message = `return value could not be sent: ${e instanceof Error ? e.message : String(e)}`;
    port.postMessage({ t: "done", result: { ok: false, message, code: "ELCORE", stack: "", info: r.result.info, started: true } });
  }
}

/** The commands arriving on `port`, in order, one at a time. */
function commands(port: MessagePort): { next(): Promise<LcoreCommand> } {
  const queue: LcoreCommand[] = [];
  let waiter: ((c: LcoreCommand) => void) | null = null;
  port.on("message", (c: LcoreCommand) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(c);
    } else queue.push(c);
  });
  return {
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => (waiter = r))),
  };
}

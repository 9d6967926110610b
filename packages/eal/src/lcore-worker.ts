/**
 * Worker side of Eal.launch: one long-running piscina task per lcore
 * (rte_eal_remote_launch). Attaches EAL memory, sets the thread's lcore id,
 * pins the thread, imports the application module, reports how it started on
 * `task.port`, then runs the entry function until it returns.
 */
import { Backoff } from "./backoff.js";
import { CTRL_STOP, lcoreWakeIndex } from "./control.js";
import { TpdkError } from "./errors.js";
import type { LcoreContext, LcoreInfo, LcoreResult, LcoreTask } from "./lcore.js";
import { LCORE_ID_ANY, setLcoreId } from "./lcore-id.js";
import { Memory } from "./memory.js";
import { currentAffinity, currentTid, pinCurrentThread } from "./pin.js";

export default async function runLcore(task: LcoreTask): Promise<LcoreResult> {
  const port = task.port;
  let info: LcoreInfo | null = null;
  let started = false;
  try {
    const mem = Memory.attach(task.sab);
    setLcoreId(task.lcoreId);
    const pin = task.pin
      ? pinCurrentThread(task.cpu)
      : { pinned: false, tid: currentTid(), affinity: currentAffinity(), reason: "--no-pin" };
    info = { lcoreId: task.lcoreId, cpu: task.cpu, ...pin };

    const mod = (await import(task.moduleUrl)) as Record<string, unknown>;
    const entry = mod[task.exportName];
    if (typeof entry !== "function") {
      throw new TpdkError("ENOENT", `${task.moduleUrl} does not export a function named ${task.exportName}`);
    }

    const i32 = mem.i32;
    const ctx: LcoreContext = {
      lcoreId: task.lcoreId,
      cpu: task.cpu,
      pinned: pin.pinned,
      mem,
      busyPoll: task.busyPoll,
      stopped: () => Atomics.load(i32, CTRL_STOP) !== 0,
      backoff: new Backoff(i32, lcoreWakeIndex(mem, task.lcoreId), task.busyPoll),
    };
    // Delivered even if the entry function then blocks this thread for good.
    port.postMessage(info);
    started = true;
    const value = await (entry as (c: LcoreContext, a: unknown) => unknown)(ctx, task.arg);
    return { ok: true, value, info };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const c = (err as { code?: unknown }).code;
    const code = typeof c === "string" ? c : "ELCORE";
    return { ok: false, message: err.message, code, stack: err.stack ?? "", info, started };
  } finally {
    setLcoreId(LCORE_ID_ANY);
    port.close();
  }
}

import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { native, nativeBinaryPath, nativeMissingReason } from "./index.js";

const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

const BINARY = nativeBinaryPath;
const MB = 1 << 20;

/** Resolve with the worker's first message; reject on error, early exit or after `ms`. */
function firstMessage(w: Worker, ms = 20_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("worker timed out")), ms);
    w.once("message", (m) => {
      clearTimeout(t);
      resolve(m);
    });
    w.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
    w.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`worker exited with ${code} before answering`));
    });
  });
}

describe.skipIf(native === null)(`mmapShared buffers and the addon in worker threads${skipNote}`, () => {
  const n = native!;
  const fds: number[] = [];
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.terminate()));
    for (const fd of fds.splice(0)) n.close(fd);
  });

  it("a mapped SharedArrayBuffer travels by workerData and postMessage; Atomics wait/notify work across threads", async () => {
    const fd = n.memfdCreate("tpdk-test", MB);
    fds.push(fd);
    const sab = n.mmapShared(fd, MB, 0);
    const i32 = new Int32Array(sab);
    const w = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const a = new Int32Array(workerData.sab);
      parentPort.once("message", (sab2) => {
        const b = new Int32Array(sab2);
        Atomics.store(b, 1, 1); // written through the posted copy, read through workerData's
        Atomics.store(a, 0, 1);
        Atomics.notify(a, 0);
        // Wait (bounded) for the main thread's answer at word 2.
        const r = Atomics.wait(a, 2, 0, 10000);
        Atomics.add(b, 3, 40);
        parentPort.postMessage(r);
      });
      `,
      { eval: true, workerData: { sab } },
    );
    workers.push(w);
    const answered = firstMessage(w);
    w.postMessage(sab);
    // Atomics.waitAsync keeps the main thread's loop running while the worker works.
    const res = Atomics.waitAsync(i32, 0, 0, 10_000);
    expect(await res.value).not.toBe("timed-out");
    expect(Atomics.load(i32, 1)).toBe(1);
    Atomics.add(i32, 3, 2);
    Atomics.store(i32, 2, 1);
    Atomics.notify(i32, 2);
    expect(["ok", "not-equal"]).toContain(await answered); // not "timed-out": the store woke or preceded the wait
    expect(Atomics.load(i32, 3)).toBe(42);
  });

  it("the addon loads in a worker (context-aware) and its mapping of the fd sees the main thread's bytes", async () => {
    const fd = n.memfdCreate("tpdk-test", MB);
    fds.push(fd);
    const u32 = new Uint32Array(n.mmapShared(fd, MB, 0));
    u32[9] = 0xcafe;
    const w = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const n = require(${JSON.stringify(BINARY)});
      const u32 = new Uint32Array(n.mmapShared(workerData.fd, ${MB}, 0));
      u32[10] = u32[9] + 1;
      const ev = n.eventfd(0);
      n.eventfdWrite(ev, 5);
      const got = n.eventfdRead(ev);
      n.close(ev);
      // A watch left running when the worker exits is closed by the environment cleanup.
      const ev2 = n.eventfd(0);
      n.watch(ev2, n.POLLIN, () => {});
      parentPort.postMessage(got);
      `,
      { eval: true, workerData: { fd } },
    );
    workers.push(w);
    expect(await firstMessage(w)).toBe(5);
    expect(u32[10]).toBe(0xcaff);
    const exit = new Promise((r) => w.once("exit", r));
    await w.terminate();
    await exit;
  });

  it("eventfdKick from a worker (an lcore's kick) adds to an eventfd the main thread made", async () => {
    const ev = n.eventfd(0);
    fds.push(ev);
    const w = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const n = require(${JSON.stringify(BINARY)});
      let r = 0;
      for (let i = 0; i < 1000; i++) r |= n.eventfdKick(workerData.ev, 1);
      parentPort.postMessage(r);
      `,
      { eval: true, workerData: { ev } },
    );
    workers.push(w);
    expect(await firstMessage(w)).toBe(0);
    expect(n.eventfdRead(ev)).toBe(1000);
  });

  it("watch() in a worker fires on the worker's own loop (the main thread writes the eventfd)", async () => {
    const ev = n.eventfd(0);
    fds.push(ev);
    const w = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const n = require(${JSON.stringify(BINARY)});
      const w = n.watch(workerData.ev, n.POLLIN, (revents, status) => {
        const value = n.eventfdRead(workerData.ev);
        w.stop();
        parentPort.postMessage({ revents, status, value });
      });
      parentPort.postMessage("watching");
      `,
      { eval: true, workerData: { ev } },
    );
    workers.push(w);
    expect(await firstMessage(w)).toBe("watching");
    const fired = firstMessage(w);
    // Listen before the write: a worker that ends emits its last message and "exit" in one go.
    const exited = new Promise((r) => w.once("exit", r));
    n.eventfdWrite(ev, 3);
    expect(await fired).toEqual({ revents: n.POLLIN, status: 0, value: 3 });
    // The worker's watch stopped, so nothing keeps its loop alive: it exits by itself.
    expect(await exited).toBe(0);
  });

  it("the mapping stays valid while a worker holds the buffer after the main thread dropped its own", async () => {
    const fd = n.memfdCreate("tpdk-test", MB);
    fds.push(fd);
    let sab: SharedArrayBuffer | null = n.mmapShared(fd, MB, 0);
    new Uint8Array(sab)[0] = 7;
    const w = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads");
      const u8 = new Uint8Array(workerData.sab);
      parentPort.once("message", () => parentPort.postMessage(u8[0]));
      `,
      { eval: true, workerData: { sab } },
    );
    workers.push(w);
    sab = null;
    (globalThis as { gc?: () => void }).gc?.();
    const answer = firstMessage(w);
    w.postMessage("read");
    expect(await answer).toBe(7);
  });
});

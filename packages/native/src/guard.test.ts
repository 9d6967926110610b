// guardMapping: a SIGBUS from touching a guarded mapping past its file's new end (the file shrunk by
// whoever else holds it) is answered in place (zero pages over that file's slot, the fault word and
// eventfd told); a SIGBUS anywhere else still ends the process. Every fault runs in a child process:
// the unguarded ones are meant to die.
import { describe, expect, it } from "vitest";
import { native, nativeBinaryPath, nativeMissingReason } from "./index.js";
// @tpdk/testing depends on this package: its owned.ts by path (a child run owned and bounded).
import { runOwned } from "../../../test/support/src/e2e/owned.js";

const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;
const BINARY = nativeBinaryPath;
const MB = 1 << 20;

/** A child's prelude: the addon, ftruncate, a fault word (0) and an eventfd number (1) in shared words. */
const PRELUDE = `
  const n = require(${JSON.stringify(BINARY)});
  const { ftruncateSync } = require("node:fs");
  const MB = ${MB};
  const words = new Int32Array(new SharedArrayBuffer(16));
  const ev = n.eventfd(0);
  words[1] = ev;
  const out = (o) => console.log(JSON.stringify(o));
`;

/** Run `body` after PRELUDE in a child Node (no core file when it dies); its exit, signal and output. */
async function child(body: string) {
  const r = await runOwned("/bin/sh", ["-c", 'ulimit -c 0; exec "$0" -e "$1"', process.execPath, PRELUDE + body], { timeoutMs: 20_000 });
  const lines = r.stdout.trim().split("\n").filter((l) => l.startsWith("{"));
  return { ...r, json: lines.length > 0 ? (JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>) : null };
}

describe.skipIf(native === null)(`guardMapping: SIGBUS past a shrunk file's end${skipNote}`, () => {
  it("a guarded mapping (mmapShared) whose file shrank: the touch reads zero, the process lives, the fault word and eventfd say so", async () => {
    const r = await child(`
      const fd = n.memfdCreate("tpdk-guard", 4 * MB);
      const sab = n.mmapShared(fd, 4 * MB, 0);
      const u8 = new Uint8Array(sab);
      u8[0] = 5;
      u8[3 * MB] = 7;
      const id = n.guardMapping(sab, words, 0, 1);
      const quiet = { fault: Atomics.load(words, 0), ev: n.eventfdRead(ev), faults: n.guardedFaults() };
      ftruncateSync(fd, MB);
      const past = u8[3 * MB];           // SIGBUS, answered: the whole slot is zero pages now
      const fault = Atomics.load(words, 0);
      u8[3 * MB + 1] = 9;                // writable, private: no second fault
      out({ quiet, past, fault, ev: n.eventfdRead(ev), faults: n.guardedFaults(), below: u8[0], wrote: u8[3 * MB + 1], again: Atomics.load(words, 0) });
      n.unguardMapping(id);
      n.unguardMapping(id);              // idempotent
    `);
    expect(r.stderr).toBe("");
    expect(r.signal).toBe(null);
    expect(r.status).toBe(0);
    expect(r.json).toEqual({ quiet: { fault: 0, ev: 0, faults: 0 }, past: 0, fault: 1, ev: 1, faults: 1, below: 0, wrote: 9, again: 1 });
  });

  it("several files (mmapSharedFiles): only the shrunk file's 2 MiB slot is replaced; the other file stays shared", async () => {
    const r = await child(`
      const a = n.memfdCreate("tpdk-guard-a", 3 * MB);
      const b = n.memfdCreate("tpdk-guard-b", MB);
      const sab = n.mmapSharedFiles([a, b], [3 * MB, MB]);   // a at 0 (4 MiB slot), b at 4 MiB
      const u8 = new Uint8Array(sab);
      const ownB = new Uint8Array(n.mmapShared(b, MB, 0));
      u8[4 * MB + 10] = 11;
      n.guardMapping(sab, words, 0, 1);
      ftruncateSync(a, MB);
      const past = u8[2 * MB];           // in a's slot, past its new end
      u8[4 * MB + 20] = 22;              // b's slot: still b's pages
      out({ past, fault: Atomics.load(words, 0), ev: n.eventfdRead(ev), b10: ownB[10], b20: ownB[20], aStart: u8[0] });
    `);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.json).toEqual({ past: 0, fault: 1, ev: 1, b10: 11, b20: 22, aStart: 0 });
  });

  it("a fault outside every guarded slot, and one in a mapping whose guard was dropped, still end the process by SIGBUS", async () => {
    const outside = await child(`
      const g = n.memfdCreate("tpdk-guarded", MB);
      const gsab = n.mmapShared(g, MB, 0);
      n.guardMapping(gsab, words, 0, 1);   // the handler is installed
      const fd = n.memfdCreate("tpdk-unguarded", 2 * MB);
      const u8 = new Uint8Array(n.mmapShared(fd, 2 * MB, 0));
      ftruncateSync(fd, MB);
      out({ touched: u8[MB + 100] });
    `);
    expect(outside.json).toBe(null);
    expect(outside.signal).toBe("SIGBUS");

    const dropped = await child(`
      const fd = n.memfdCreate("tpdk-unguarded", 2 * MB);
      const sab = n.mmapShared(fd, 2 * MB, 0);
      n.unguardMapping(n.guardMapping(sab, words, 0, 1));
      ftruncateSync(fd, MB);
      out({ touched: new Uint8Array(sab)[MB + 100] });
    `);
    expect(dropped.json).toBe(null);
    expect(dropped.signal).toBe("SIGBUS");

    // A SIGBUS sent by kill is not a fault: delivered as before (the default action), guard or not.
    const sent = await child(`
      const fd = n.memfdCreate("tpdk-guarded", MB);
      n.guardMapping(n.mmapShared(fd, MB, 0), words, 0, 1);
      process.kill(process.pid, "SIGBUS");
      setTimeout(() => out({ alive: true }), 200);
    `);
    expect(sent.json).toBe(null);
    expect(sent.signal).toBe("SIGBUS");
  });

  it("threads: a guard registered by a worker answers a fault on any thread; a worker that exits with its guard registered loses it (the environment's cleanup)", async () => {
    // The worker maps and guards, posts the buffer, and either stays (until told) or exits at once.
    const worker = (stay: boolean) => `
      const { Worker } = require("node:worker_threads");
      const src = \`
        const { parentPort, workerData } = require("node:worker_threads");
        const n = require(\${JSON.stringify(${JSON.stringify(BINARY)})});
        const sab = n.mmapShared(workerData.fd, 2 * ${MB}, 0);
        n.guardMapping(sab, workerData.words, 0, 1);
        parentPort.postMessage(sab);
        if (${stay}) parentPort.once("message", () => process.exit(0));
      \`;
      const fd = n.memfdCreate("tpdk-guard-worker", 2 * MB);
      const w = new Worker(src, { eval: true, workerData: { fd, words } });
      let sab = null;
      const touch = () => {
        ftruncateSync(fd, MB);
        const past = new Uint8Array(sab)[MB + 100];
        out({ past, fault: Atomics.load(words, 0), ev: n.eventfdRead(ev) });
        if (${stay}) w.postMessage("bye");
      };
      w.once("message", (m) => {
        sab = m;
        if (${stay}) touch();
      });
      if (!${stay}) w.once("exit", touch);
    `;
    const stays = await child(worker(true));
    expect(stays.stderr).toBe("");
    expect(stays.status).toBe(0);
    expect(stays.json).toEqual({ past: 0, fault: 1, ev: 1 });
    const exited = await child(worker(false));
    expect(exited.json).toBe(null);
    expect(exited.signal).toBe("SIGBUS");
  });

  it("a hugetlb file that shrank: its slot is replaced at huge-page granularity (skipped without free 2 MiB pages)", async () => {
    const r = await child(`
      let fd, sab;
      try {
        fd = n.memfdCreate("tpdk-guard-huge", 4 * MB, { hugetlb: true });
        sab = n.mmapShared(fd, 4 * MB, 0, { populate: true });
      } catch (e) {
        out({ skip: e.code });
        process.exit(0);
      }
      const u8 = new Uint8Array(sab);
      u8[3 * MB] = 3;
      n.guardMapping(sab, words, 0, 1);
      ftruncateSync(fd, 2 * MB);
      out({ past: u8[3 * MB], fault: Atomics.load(words, 0) });
    `);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    if (r.json?.skip !== undefined) {
      console.log(`hugetlb guard case skipped: ${String(r.json.skip)}`);
      return;
    }
    expect(r.json).toEqual({ past: 0, fault: 1 });
  });

  it("refuses what it cannot guard: a buffer it did not map, words not shared, an argument missing, indices outside words", () => {
    const n = native!;
    const fd = n.memfdCreate("tpdk-guard-args", 3 * MB);
    try {
      const words = new Int32Array(new SharedArrayBuffer(16));
      const one = n.mmapShared(fd, 3 * MB, 0);
      expect(() => n.guardMapping(new SharedArrayBuffer(4096), words, 0, 1)).toThrow(TypeError);
      expect(() => n.guardMapping(one, new Int32Array(4), 0, 1)).toThrow(/SharedArrayBuffer/);
      expect(() => n.guardMapping(one, words, 0, 4)).toThrow(RangeError);
      expect(() => (n.guardMapping as unknown as (...a: unknown[]) => number)(one, words, 0)).toThrow(TypeError);
      const two = n.mmapSharedFiles([fd, fd], [3 * MB, MB]);
      n.unguardMapping(n.guardMapping(two, words, 0, 1));
      expect(() => n.unguardMapping(-1)).toThrow(TypeError);
      n.unmapShared(one);
      n.unmapShared(two);
    } finally {
      n.close(fd);
    }
  });
});

import { Memory } from "@tpdk/eal";
import { native, nativeMissingReason } from "@tpdk/native";
import { VRING_USED_F_NO_NOTIFY } from "@tpdk/virtio";
import { afterEach, describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild } from "@tpdk/testing/child";
import { RIG_URL, frame, rig, toMbuf, type Rig } from "@tpdk/testing/virtio-pmd";

// QueueBase.kick on a transport with kick-fd words (VirtioTransport.kickFdAddr, the vhost-user
// transport's): the lcore writes the kick eventfd itself (the addon's eventfdKick) instead of
// notifying the device thread's doorbell. The fake device stands in for the back-end.

const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

function xs(r: Rig, name: string): number {
  return r.port.xstats().find((s) => s.name === name)!.value;
}

/**
 * 200k kicks (EVENT_IDX off: every publish kicks) to an eventfd after 50k that optimize the kick,
 * measured with a GC observer and the heap's growth; up to three windows, so that a scavenge the
 * bookkeeping around a window happens to trigger does not count, while a kick that allocates fails
 * all three. Prints { gcs, grown, written } of the last window.
 */
const allocScript = `
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { Memory } from "@tpdk/eal";
import { native as n } from "@tpdk/native";
const { txBoundRig } = await import(${JSON.stringify(RIG_URL)});
const mem = Memory.create(48 << 20);
const words = mem.reserve("test.kickfd", 8 * 8, 64).offset;
for (let q = 0; q < 8; q++) Atomics.store(mem.i32, (words + 8 * q) >>> 2, -1);
const fd = n.eventfd(0);
Atomics.store(mem.i32, (words + 8) >>> 2, fd);
const r = txBoundRig({ mem, pmd: { eventIdx: false }, kickFdAddr: (q) => words + 8 * q }); // bound: Q_KICK_FD read
const q = r.txq;
const run = (k) => { for (let i = 0; i < k; i++) q.kick(1); };
run(50_000);
n.eventfdRead(fd);
let written = -1;
${GC_WINDOW_JS}
const { gcs, value: grown } = await gcWindow(() => {
  const before = getHeapStatistics().used_heap_size;
  run(200_000);
  const grown = getHeapStatistics().used_heap_size - before;
  written = n.eventfdRead(fd);
  return grown;
}, (grown) => grown < 256 * 1024, 3, false); // used_heap_size: no full collection first (gcWindow)
r.port.stop();
n.close(fd);
console.log(JSON.stringify({ gcs, grown, written }));
`;

describe.skipIf(native === null)(`kicks written to the transport's kick eventfd by the data path${skipNote}`, () => {
  const n = native!;
  const fds: number[] = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) n.close(fd);
  });

  /** A rig whose transport has [fd, writers] words for every queue; TX queue 0 (vq 1) gets an eventfd. */
  function fdRig(eventIdx = true) {
    const mem = Memory.create(48 << 20);
    const words = mem.reserve("test.kickfd", 8 * 8, 64).offset;
    for (let q = 0; q < 8; q++) Atomics.store(mem.i32, (words + 8 * q) >>> 2, -1);
    const fd = n.eventfd(0);
    fds.push(fd);
    Atomics.store(mem.i32, (words + 8) >>> 2, fd);
    const r = rig({ mem, pmd: { eventIdx }, kickFdAddr: (q) => words + 8 * q });
    const doorbell = () => Atomics.load(mem.i32, r.dev.doorbell >>> 2);
    const writers = () => Atomics.load(mem.i32, (words + 12) >>> 2);
    const one = (i: number) => r.txq.txBurst(Uint32Array.of(toMbuf(r, frame(64, i))), 1);
    const setFd = (v: number) => Atomics.store(mem.i32, (words + 8) >>> 2, v);
    return { r, fd, doorbell, writers, one, setFd };
  }

  it("a kick is an eventfd write on the data path's thread; the doorbell does not move", () => {
    const { r, fd, doorbell, writers, one } = fdRig(false);
    const bell = doorbell();
    one(1);
    one(2);
    expect(r.dev.kicks(r.txVq)).toBe(2); // the notify word still counts them
    expect(n.eventfdRead(fd)).toBe(2);
    expect(doorbell()).toBe(bell);
    expect(writers()).toBe(0);
    expect(xs(r, "tx_q0_kicks")).toBe(2);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("EVENT_IDX with a back-end that never moves avail_event (DPDK polling): one kick per 2^16 entries, each written", () => {
    const { r, fd, doorbell, one } = fdRig(true);
    const bell = doorbell();
    one(1); // 0 -> 1 crosses avail_event 0
    expect(n.eventfdRead(fd)).toBe(1);
    // The priming (the first 64 publishes that need no kick run the kick path with n = 0) writes nothing anywhere.
    for (let i = 0; i < 80; i++) {
      one(i);
      r.dev.drainTx(r.txVq);
      r.txq.cleanup();
    }
    expect(r.txq.kickPrimesLeft).toBe(0);
    expect(n.eventfdRead(fd)).toBe(0);
    expect(doorbell()).toBe(bell);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("rings down (fd word -1): the kick writes nothing and does not throw; a later fd gets the next kick", () => {
    const { r, fd, one, setFd, writers } = fdRig(false);
    setFd(-1);
    one(1);
    expect(xs(r, "tx_q0_kicks")).toBe(1);
    expect(n.eventfdRead(fd)).toBe(0);
    expect(writers()).toBe(0);
    setFd(fd);
    one(2);
    expect(n.eventfdRead(fd)).toBe(1);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });

  it("without kick-fd words (the built-in device) the kick goes through the doorbell", () => {
    const r = rig({ pmd: { eventIdx: false } });
    const bell = Atomics.load(r.mem.i32, r.dev.doorbell >>> 2);
    r.dev.setUsedFlags(r.txVq, 0);
    r.txq.txBurst(Uint32Array.of(toMbuf(r, frame(64, 1))), 1);
    expect(r.dev.kicks(r.txVq)).toBe(1);
    expect(Atomics.load(r.mem.i32, r.dev.doorbell >>> 2)).toBe(bell + 1);
    r.dev.setUsedFlags(r.txVq, VRING_USED_F_NO_NOTIFY);
    r.dev.drainTx(r.txVq);
    r.port.stop();
  });
  // The GC target (no collection in any measured window on any thread): the kick path runs ~430 times a
  // second on an lcore forwarding to DPDK's vhost (EVENT_IDX, avail_event never moved). 200k kicks
  // allocating even one 16-byte number each would be 3.2 MB and at least one scavenge; the bound is
  // 256 KB (code the optimizer installs meanwhile lands on the heap too) and no GC at all.
  it("the kick path allocates nothing: 200k kicks, no GC and no heap growth (a child process)", async () => {
    // In a child process: in the test's own isolate vitest's RPC and timers allocate too, which under
    // load (session 16: once at load 8-12) put a scavenge into the window that no kick caused.
    const r = await runChild(allocScript);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gcs: number; grown: number; written: number };
    expect(out.written).toBe(200_000);
    expect(out.gcs).toBe(0);
    expect(out.grown).toBeLessThan(256 * 1024);
  }, 90_000);
});

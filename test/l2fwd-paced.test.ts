// A paced generator well below l2fwd's capacity misses no frame from the
// first one on, once --warmup has run (apps/l2fwd/README.md, "Start").
// Counted, not timed: generated = received + missed with missed = 0,
// received = sent + dropped with dropped = 0, sent = delivered.
//
// Why these numbers. 1 Mpps is a fraction of what one lcore forwards once
// V8 has optimized the loop, the driver and the device (over 7 Mpps on a
// quiet machine), but not of what the same code does while it is still
// interpreted and being compiled: without the warm-up the first few hundred
// ms fall behind and a run misses 60,000-85,000 frames beyond the ring
// (measured at load 6-7; 0 with --warmup). A 32,768-entry RX ring (a built-in
// device offers what queue_size= asks) holds 33 ms of 1 Mpps, so a stall of
// the lcore or the device thread by the OS of a few ms, even of tens of ms
// (the machine's own jitter, other processes), costs nothing: only a cold
// start or a stall of over 33 ms can make this miss. Retried once for the
// latter, which is random, while a warm-up that leaves the start cold misses
// on every try. The rings need 2 x 2 x 32,768 mbufs (~300 MB): -m 1024.
//
// What the machine took is measured, not guessed from the load average: every 10 ms, from the
// "Lcore 0: RX port" line (printed after the warm-up, just before forwarding starts) to the exit,
// the test reads how long each of l2fwd's threads waited for a CPU while runnable
// (/proc/<pid>/task/<tid>/schedstat, the kernel's run_delay) and the machine's busy time
// (/proc/stat). Stalls of the polling threads (the lcore, and the device thread whose paced
// generator catches up after one) totalling W ms can miss at most RATE x (W - RING_MS) frames; W
// counts only what other processes ran meanwhile (the machine's busy time less l2fwd's own threads'),
// since a poller also waits for l2fwd's own compiles, which are the cold start under test. Missed
// frames beyond that allowance fail the test (on a quiet machine it is 0: missed must be 0, as
// before). When the allowance reaches what a cold start misses (60,000 frames, above) the run
// cannot tell the two apart: a run that missed frames then is skipped with the figures in its
// reason (never passed). Checked at autogroup -20 (22:45 UTC, load 7, other sessions' work): warm,
// 0 missed (pollers' waits 23 / 122 ms, others ran 291 ms); without --warmup, 197,487 missed and
// skipped (waits 176 / 283 ms, others 216 ms: allowance 202,111). So a cold start fails it only
// where other processes ran less than ~70 ms of its ~1.5 s. It failed in session 11's CI while
// three helpers were building, and sessions 12-14 left it noted as load-sensitive.
//
// Still skipped up front on an oversubscribed machine (1-minute load average over twice the CPUs;
// TPDK_TEST_PACED_ANY_LOAD=1 runs it anyway): there the run takes minutes, not seconds (measured
// at load 6-7, nice 10: 130,000-860,000 of 1.2 M missed, warm or not; at load 9-10, 189 s for the
// 1.2 s of frames, 727,108 missed).
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { describe, expect, it } from "vitest";
import { lastJson, runL2fwd } from "@tpdk/testing/e2e";

const RATE = 1_000_000;
const COUNT = 1_200_000;
const QUEUE = 32768;
/** Frames per generator in each warm-up phase (pnpm demo's value). */
const WARMUP = 300_000;
/** How long the RX ring holds the generator's frames, ms. */
const RING_MS = (QUEUE / RATE) * 1000;
/** Fewest frames a run without --warmup missed (above): an allowance this large cannot tell a cold start. */
const COLD_MISSES = 60_000;
const SAMPLE_MS = 10;

/** Each thread's [run, wait] in ms: /proc/<pid>/task/<tid>/schedstat (ns on CPU, ns runnable but waiting). */
function schedstats(pid: number): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // gone
  }
  for (const tid of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
      out.set(tid, [run! / 1e6, wait! / 1e6]);
    } catch {
      // exited between the listing and the read
    }
  }
  return out;
}

/** CPU time all CPUs spent busy (not idle or iowait), ms, from /proc/stat's ticks (USER_HZ 100: 10 ms each). */
function machineBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq + (steal ?? 0)) * 10;
}

/** One thread's schedstat (ms) at the forwarding phase's start and at its last sample. */
interface ThreadWaits {
  run0: number;
  wait0: number;
  run: number;
  wait: number;
  /** performance.now() of its last sample, and of the first sample it was missing from (0: never). */
  at: number;
  goneAt: number;
}

/** The CPU waits of a run's threads while it forwards (from its "Lcore" line to its exit). */
class ForwardingWaits {
  private start: Map<string, [number, number]> | null = null;
  private readonly threads = new Map<string, ThreadWaits>();
  private closedAt = 0;
  /** The machine's busy CPU time at the start and at the last sample, ms. */
  private busy0 = 0;
  private busy = 0;

  watch(child: ChildProcess): void {
    let out = "";
    const pid = child.pid!;
    child.stdout!.on("data", (d) => {
      out += d;
      if (this.start === null && out.includes("Lcore 0: RX port")) {
        this.start = schedstats(pid);
        this.busy0 = machineBusyMs();
        this.sample(pid);
      }
    });
    const timer = setInterval(() => {
      if (this.start !== null) this.sample(pid);
    }, SAMPLE_MS);
    child.on("close", () => {
      clearInterval(timer);
      this.closedAt = performance.now();
    });
  }

  /** Every thread keeps its last sample: threads that exit before the process (at the stop) too. */
  private sample(pid: number): void {
    const s = schedstats(pid);
    if (s.size === 0) return; // the process is gone
    const now = performance.now();
    this.busy = machineBusyMs();
    for (const [tid, [run, wait]] of s) {
      const t = this.threads.get(tid);
      if (t !== undefined) Object.assign(t, { run, wait, at: now });
      else {
        // A thread started after the phase began: all of its waits count.
        const [run0, wait0] = this.start!.get(tid) ?? [0, 0];
        this.threads.set(tid, { run0, wait0, run, wait, at: now, goneAt: 0 });
      }
    }
    for (const [tid, t] of this.threads) if (t.goneAt === 0 && !s.has(tid)) t.goneAt = now;
  }

  /**
   * The two threads that ran most while forwarding (the lcore and the device thread), their waits,
   * the CPU time other processes used meanwhile (the machine's busy time less all of l2fwd's
   * threads' run time, + 20 ms for /proc/stat's 10 ms ticks at both ends), and the frames the
   * machine can have taken: RATE x (the pollers' waits, at most what others ran, + their
   * unobserved tails - RING_MS). A poller waits while every CPU runs another thread, l2fwd's own
   * (a compile, the main thread) or another process's: only the latter is the machine's, so a cold
   * start's compiles, which make the pollers wait too, do not excuse its misses.
   */
  result(): { waitsMs: number[]; tailsMs: number[]; othersMs: number; allowance: number } | null {
    if (this.start === null) return null;
    const d = [...this.threads.values()].map((t) => ({
      run: t.run - t.run0,
      wait: t.wait - t.wait0,
      tail: Math.max(0, (t.goneAt !== 0 ? t.goneAt : this.closedAt) - t.at),
    }));
    const ownRun = d.reduce((a, t) => a + t.run, 0);
    const othersMs = Math.max(0, this.busy - this.busy0 - ownRun) + 20;
    d.sort((a, b) => b.run - a.run);
    const busiest = d.slice(0, 2);
    const waits = busiest.reduce((a, t) => a + t.wait, 0);
    const tails = busiest.reduce((a, t) => a + t.tail, 0);
    const allowance = Math.ceil((RATE / 1000) * Math.max(0, Math.min(waits, othersMs) + tails - RING_MS));
    return { waitsMs: busiest.map((t) => t.wait), tailsMs: busiest.map((t) => t.tail), othersMs, allowance };
  }
}

describe("l2fwd: a paced generator below capacity after --warmup", () => {
  it(`${RATE / 1e6} Mpps into a ${QUEUE}-entry ring: 0 missed (beyond what the CPU waits measured allow), every frame accounted for`, { retry: 1, timeout: 90_000 }, async (ctx) => {
    const load = loadavg()[0]!;
    const cpus = availableParallelism();
    if (load > 2 * cpus && process.env.TPDK_TEST_PACED_ANY_LOAD !== "1") {
      ctx.skip(`skipped: load average ${load.toFixed(1)} is over twice the ${cpus} CPUs: l2fwd's two polling threads would not get their CPUs`);
    }
    const waits = new ForwardingWaits();
    const r = await runL2fwd(
      [
        "-l", "0", "-m", "1024",
        "--vdev", `virtio0,wire=gen,rate=${RATE},count=${COUNT},queue_size=${QUEUE}`,
        "--vdev", `virtio1,wire=sink,check=1,queue_size=${QUEUE}`,
        "--", "-p", "0x3", "-q", "2", "-T", "0", "--json", "--warmup", String(WARMUP),
      ],
      80_000,
      {},
      (child) => waits.watch(child),
    );
    expect(r.code, r.stderr).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    const w = waits.result();
    expect(w, "no \"Lcore 0: RX port\" line: the forwarding phase was not seen").not.toBeNull();
    const ms = (xs: number[]): number[] => xs.map((x) => Math.round(x));
    const counts = JSON.stringify({ p0, p1, waitsMs: ms(w!.waitsMs), tailsMs: ms(w!.tailsMs), othersMs: Math.round(w!.othersMs), allowance: w!.allowance });
    console.log(`l2fwd-paced: ${counts}`);
    // generated = received + missed
    expect(p0.rx! + p0.missed!, counts).toBe(COUNT);
    // received = sent + dropped, and nothing dropped (a 32,768-entry TX ring is never full here)
    expect(p1.tx! + p1.dropped!, counts).toBe(p0.rx);
    expect(p1.dropped, counts).toBe(0);
    // sent = delivered: the sink took every frame sent
    expect(p1.wire_delivered, counts).toBe(p1.tx);
    expect(r.stdout).toContain("Bye...");
    // Nothing missed, or no more than the threads' CPU waits explain; a run whose waits could hide a
    // cold start, and that missed frames, says so and is skipped.
    if (p0.missed! > 0 && w!.allowance >= COLD_MISSES) {
      ctx.skip(`skipped: ${p0.missed} frames missed while l2fwd's polling threads waited ${ms(w!.waitsMs).join(" and ")} ms for a CPU and other processes ran ${Math.round(w!.othersMs)} ms: up to ${w!.allowance} misses can be the machine's, as many as a cold start's; the start cannot be judged`);
    }
    expect(p0.missed!, counts).toBeLessThanOrEqual(w!.allowance);
  });
});

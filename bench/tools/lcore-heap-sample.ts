/**
 * A forwarding loop for TPDK_BENCH_LCORE_URL that runs the real one (or the
 * module in TPDK_HEAP_SAMPLE_INNER) under V8's sampling heap profiler, objects
 * collected by scavenges included, and writes the profile when the loop
 * returns: what the lcore allocates, by function.
 *
 *   TPDK_BENCH_LCORE_URL=file://$PWD/bench/dist/tools/lcore-heap-sample.js \
 *   TPDK_HEAP_SAMPLE_OUT=/tmp/lcore.heapprofile node bench/dist/tools/lcore-gc.js ...
 *   node bench/dist/tools/lcore-heap-sample.js /tmp/lcore.heapprofile   # summary: bytes by function
 *
 * Sampling covers each launch of the loop from its first pass (the profile
 * of the last launch is the one written): the loop no longer calls
 * ctx.stopped() (lcore-loop.ts polls a module function, so the launch after
 * l2fwd's --warmup runs the same optimised code), so nothing inside it can
 * start a sampler later, and a timer cannot fire while it spins. Run with
 * --warmup to keep the JIT's start-up allocations out of the profile.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { isMainThread } from "node:worker_threads";
import type { LcoreContext } from "@tpdk/eal";

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  id: number;
  children: SampleNode[];
}
interface SamplingProfile {
  head: SampleNode;
  samples: { size: number; nodeId: number; ordinal: number }[];
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

export async function l2fwdLoop(ctx: LcoreContext, arg: unknown): Promise<unknown> {
  const innerUrl = process.env.TPDK_HEAP_SAMPLE_INNER || import.meta.resolve("@tpdk/l2fwd/lcore-loop");
  const out = process.env.TPDK_HEAP_SAMPLE_OUT || "/tmp/lcore.heapprofile";
  const inner = (await import(innerUrl)) as { l2fwdLoop: (c: LcoreContext, a: unknown) => Promise<unknown> };
  const s = new Session();
  s.connect();
  // Same-thread session: the command is dispatched synchronously, before the loop's first pass.
  s.post("HeapProfiler.startSampling", {
    // Mean bytes between samples: 64 sees every small object (and slows the loop several
    // times); a few KB keeps the loop near full speed for steady-state rates.
    samplingInterval: Number(process.env.TPDK_HEAP_SAMPLE_INTERVAL || 64),
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
  const value = await inner.l2fwdLoop(ctx, arg);
  const { profile } = await post<{ profile: SamplingProfile }>(s, "HeapProfiler.stopSampling");
  writeFileSync(out, JSON.stringify(profile));
  s.disconnect();
  return value;
}

/** Bytes sampled per function (self), highest first. */
export function summarize(p: SamplingProfile, top = 25): string[] {
  const self = new Map<string, number>();
  const walk = (n: SampleNode, path: string[]): void => {
    const cf = n.callFrame;
    const name = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}`;
    if (n.selfSize > 0) {
      const key = `${name}  <- ${path.slice(-3).reverse().join(" <- ")}`;
      self.set(key, (self.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, [...path, cf.functionName || "(anonymous)"]);
  };
  walk(p.head, []);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [`total sampled: ${total} bytes`, ...rows.map(([k, v]) => `${String(v).padStart(12)}  ${k}`)];
}

if (isMainThread && process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const file = process.argv[2] ?? "/tmp/lcore.heapprofile";
  for (const line of summarize(JSON.parse(readFileSync(file, "utf8")) as SamplingProfile)) console.log(line);
}

import { Bench } from "tinybench";

/**
 * One micro-benchmark row. `run(reps)` performs the operation `reps` times;
 * each tinybench sample times one such call and records the mean per
 * operation, because one operation (tens of ns) is far below the cost and
 * resolution of a timer read (~50 ns).
 */
export interface MicroCase {
  group: string;
  name: string;
  /** Objects moved per operation (burst size), for the per-object column. */
  objects: number;
  /** Operations per timed sample. */
  reps: number;
  run: (reps: number) => void;
  setup?: () => void;
}

export interface MicroRow {
  group: string;
  name: string;
  objects: number;
  /** Median ns per operation. */
  nsPerOp: number;
  /** Median ns per object (nsPerOp / objects). */
  nsPerObject: number;
  /** Median absolute deviation of ns per operation. */
  madNs: number;
  /** 99th percentile of ns per operation. */
  p99Ns: number;
  samples: number;
}

export interface MicroOptions {
  /** Time budget per case, ms. */
  time: number;
  warmupTime: number;
}

export async function runCases(cases: MicroCase[], opts: MicroOptions): Promise<MicroRow[]> {
  const rows: MicroRow[] = [];
  for (const c of cases) {
    // One Bench per case: its setup (lcore id, fresh ring) holds while it runs.
    c.setup?.();
    const bench = new Bench({ time: opts.time, warmupTime: opts.warmupTime, warmup: true });
    const now = bench.now.bind(bench);
    bench.add(c.name, () => {
      const t0 = now();
      c.run(c.reps);
      const dt = now() - t0;
      return { overriddenDuration: dt / c.reps, overriddenIterationCost: dt };
    });
    await bench.run();
    const r = bench.tasks[0]!.result;
    if (r.state !== "completed") throw new Error(`${c.group} ${c.name}: ${r.state === "errored" ? r.error.message : r.state}`);
    const ns = 1e6;
    rows.push({
      group: c.group,
      name: c.name,
      objects: c.objects,
      nsPerOp: r.latency.p50 * ns,
      nsPerObject: (r.latency.p50 * ns) / c.objects,
      madNs: r.latency.mad * ns,
      p99Ns: r.latency.p99 * ns,
      samples: r.latency.samplesCount,
    });
  }
  return rows;
}

export function formatTable(rows: MicroRow[]): string {
  const head = "| group | case | objs/op | median ns/op | median ns/obj | MAD ns/op | p99 ns/op | samples |";
  const sep = "|---|---|---:|---:|---:|---:|---:|---:|";
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const lines = rows.map(
    (r) => `| ${r.group} | ${r.name} | ${r.objects} | ${f(r.nsPerOp)} | ${f(r.nsPerObject)} | ${f(r.madNs)} | ${f(r.p99Ns)} | ${r.samples} |`,
  );
  return [head, sep, ...lines].join("\n");
}

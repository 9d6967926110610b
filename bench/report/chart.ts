import * as vega from "vega";
import * as vl from "vega-lite";
import type { BenchResults } from "./results.js";

interface Point {
  burst: number;
  mpps: number;
  min: number;
  max: number;
  series: string;
  size: string;
  /** A sweep over every burst (drawn as a line) or a few measured bursts only (drawn as points). */
  sweep: boolean;
}

/**
 * Mpps against burst size, one line per TX path (median, with the min-max
 * band of the repetitions), one panel per frame size; DPDK testpmd's pair, when
 * measured, as points (with their min-max) in the 64 B panel: it is measured at
 * a few bursts only, and a line between them across the log axis would show
 * values nobody measured. Rendered headless by vega
 * (renderer "none" -> SVG string).
 */
export function chartSpec(r: BenchResults): vl.TopLevelSpec {
  const values: Point[] = [];
  for (const c of r.throughput) {
    if (c.runs === 0) continue;
    values.push({ burst: c.config.burst, mpps: c.mpps.median, min: c.mpps.min, max: c.mpps.max, series: `tpdk ${c.config.txPath}`, size: `${c.config.frameSize} B frames`, sweep: true });
  }
  if (r.dpdk && !r.dpdk.skipped) {
    for (const row of r.dpdk.rows) {
      if (row.dpdk.n === 0) continue;
      values.push({ burst: row.burst, mpps: row.dpdk.median, min: row.dpdk.min, max: row.dpdk.max, series: "DPDK testpmd pair", size: "64 B frames", sweep: false });
    }
  }
  const bursts = [...new Set(values.map((v) => v.burst))].sort((a, b) => a - b);
  const sizes = [...new Set(values.map((v) => v.size))].sort((a, b) => parseInt(a) - parseInt(b));
  const color = { field: "series", type: "nominal", title: null, legend: { orient: "bottom", symbolOpacity: 1, symbolStrokeWidth: 3 } } as const;
  const x = { field: "burst", type: "quantitative", title: "burst size (packets)", scale: { type: "log", base: 2 }, axis: { values: bursts, format: "d" } } as const;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `tpdk pipeline throughput${r.meta.fake ? " (SYNTHETIC DATA)" : ""}`,
      subtitle: `gen -> device -> virtio-pmd rx -> l2fwd -> virtio-pmd tx -> device -> sink; ${r.meta.cpu}, Node ${r.meta.node}, ${r.meta.date.slice(0, 10)}`,
    },
    data: { values },
    facet: { column: { field: "size", type: "nominal", title: null, sort: sizes } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.sweep" }],
          mark: { type: "area", opacity: 0.18 },
          encoding: { x, y: { field: "min", type: "quantitative" }, y2: { field: "max" }, color },
        },
        {
          transform: [{ filter: "datum.sweep" }],
          mark: { type: "line", point: true },
          encoding: {
            x,
            y: { field: "mpps", type: "quantitative", title: "delivered Mpps (median)" },
            color,
          },
        },
        // Measured at a few bursts only: a point and its min-max per burst, nothing in between.
        {
          transform: [{ filter: "!datum.sweep" }],
          mark: { type: "rule", strokeWidth: 2 },
          encoding: { x, y: { field: "min", type: "quantitative" }, y2: { field: "max" }, color },
        },
        {
          transform: [{ filter: "!datum.sweep" }],
          mark: { type: "point", shape: "diamond", filled: true, size: 90 },
          encoding: { x, y: { field: "mpps", type: "quantitative" }, color },
        },
      ],
    },
  } as vl.TopLevelSpec;
}

export async function renderChartSvg(r: BenchResults): Promise<string> {
  const compiled = vl.compile(chartSpec(r)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

import { FAST_LEVEL_BELOW_NS } from "../lib/host-level.js";
import { fmt } from "../lib/summary.js";
import { describe, fmtRate } from "../pipeline/plan.js";
import type { BenchResults } from "./results.js";
import { jitterNote, jitterTable } from "../jitter/report.js";
import { dpdkTable, featuresTable, latencyTable, netVhostTable, targets, throughputTable, vhostUserTable } from "./sections.js";
import { renderMarkdown } from "./table.js";

/** The markdown report (<name>.md), with the chart (<name>.svg) beside it. */
export function markdownReport(r: BenchResults, svgFile: string): string {
  const m = r.meta;
  const o = m.options;
  const out: string[] = [];
  out.push(`# tpdk pipeline benchmark (${o.name})`);
  out.push("");
  if (m.fake) out.push("> **SYNTHETIC DATA** (`--fake`): nothing was measured; this file only shows the report's layout.\n");
  out.push(`- CPU: ${m.cpu} (${m.cpus} logical CPUs)`);
  out.push(`- Node ${m.node} (V8 ${m.v8}), ${m.os}`);
  out.push(`- Date: ${m.date}${m.commit ? `, commit ${m.commit}` : ""}`);
  out.push(`- Load average (1/5/15 min): ${m.loadavgStart.map((x) => x.toFixed(2)).join(" ")} at the start, ${m.loadavgEnd.map((x) => x.toFixed(2)).join(" ")} at the end; the run took ${fmtDuration(m.elapsedS)}`);
  const pipelineRan = r.throughput.length + r.features.length + r.latency.length > 0;
  if (pipelineRan) {
    out.push(
      `- Method: each configuration runs in a fresh process: gen wire -> device thread (CPU 1) -> virtio-pmd rx -> l2fwd loop (lcore 0, CPU 0) -> virtio-pmd tx -> device -> sink wire, both threads busy-polling; ` +
        `${o.warmupMs} ms warm-up, then a ${o.durationMs} ms window (latency: ${o.latencyDurationMs} ms at ${fmtRate(o.latencyRate)}), ` +
        `${o.repeat} repetition${o.repeat > 1 ? "s" : ""}, repetitions interleaved; figures are the median with the min–max range in parentheses.`,
    );
  }
  if (r.dpdk || r.vhostUser || r.netVhost) {
    out.push(
      `- DPDK comparisons: ${o.dpdkWarmupS} s warm-up, then a ${o.dpdkDurationS} s window per run, DPDK's run and tpdk's alternating at each burst, ${o.repeat} repetition${o.repeat > 1 ? "s" : ""}; median (min–max).`,
    );
  }
  out.push("");
  const checks = targets(r);
  if (checks.some((t) => t.met !== null)) {
    out.push("## Targets");
    out.push("");
    out.push(
      renderMarkdown({
        header: ["target", "measured", "met"],
        align: ["l", "l", "l"],
        rows: checks.map((t) => [t.target, t.measured, t.met === null ? "–" : t.met ? "yes" : "**no**"]),
      }),
    );
    out.push("");
  }
  if (r.throughput.length > 0) {
    out.push("## Throughput by burst, TX path and frame size");
    out.push("");
    out.push(`IN_ORDER and MRG_RXBUF on, queue size ${o.queueSize}, unpaced generator.`);
    out.push("");
    out.push(`![Mpps against burst size, one line per TX path](${svgFile})`);
    out.push("");
    out.push(renderMarkdown(throughputTable(r.throughput)));
    out.push("");
  }
  if (r.features.length > 0) {
    out.push("## IN_ORDER and MRG_RXBUF");
    out.push("");
    out.push("64-byte frames.");
    out.push("");
    out.push(renderMarkdown(featuresTable(r.features)));
    out.push("");
  }
  const j = r.jitter;
  if (j) {
    out.push("## Machine jitter (bare pinned loop)");
    out.push("");
    out.push(
      `Before the latency runs, one thread pinned to each CPU the pipeline uses runs a busy loop that allocates nothing and only reads a monotonic clock (\`jitter/\`), all at the same time, for ${fmt(o.jitterDurationMs / 1000)} s per repetition. ` +
        "Every gap between two passes longer than 5 µs is time the thread did not run although it never yields: the guest kernel or the hypervisor took the CPU. " +
        "**lost %**: gaps' total time over the window; **/s** columns: gaps per second by length; **wait**: the delay a frame arriving at a random instant would see before that CPU runs again (the rest of the gap it lands in), p99, p99.9 and the share above 20 µs (a quantile of at most 5 µs reads `≤ 5`); **invol. switches**: the guest kernel preempting the thread (the host's preemption does not show here, nor, mostly, in **steal %**); **GC**: collections during the measured loop (0: it allocated nothing).",
    );
    out.push("");
    if (j.summary) {
      out.push(renderMarkdown(jitterTable(j.summary)));
      out.push("");
      out.push(jitterNote(j.summary));
      out.push("");
    }
    for (const e of j.failures) out.push(`- probe failed: ${e.split("\n")[0]}`);
    if (j.failures.length > 0) out.push("");
  }
  if (r.latency.length > 0) {
    out.push(`## Latency at ${fmtRate(o.latencyRate)} offered`);
    out.push("");
    out.push(
      "64-byte frames stamped by the generator (`timestamp=1`) when the device writes them into an RX buffer and read by the sink (`latency=1`) when the device takes them from the TX ring: the time a frame spends in the driver's RX ring, l2fwd and the TX ring, with both ends on the device thread's clock. Percentiles come from the sink's histogram, restricted to the measurement window.",
    );
    out.push("");
    out.push(renderMarkdown(latencyTable(r.latency)));
    out.push("");
  }
  if (r.dpdk) {
    out.push("## Against DPDK");
    out.push("");
    if (r.dpdk.skipped) out.push(r.dpdk.skipped);
    else {
      out.push(
        `Two dpdk-testpmd processes joined by vhost-user, one forwarding core each, on the same CPUs as tpdk: a vhost-user port in flowgen mode (generates 64 B frames and counts what comes back: the device with its gen and sink wires) on CPU 1, and a virtio-user port (split ring) in mac forwarding mode (l2fwd) on CPU 0. ${r.dpdk.env?.version ?? ""}; ${r.dpdk.env?.hugeNote ?? ""}. tpdk runs ${r.dpdk.tpdkShape}. DPDK and tpdk runs alternate.`,
      );
      out.push("");
      const t = dpdkTable(r);
      if (t) out.push(renderMarkdown(t));
      out.push("");
      if (r.dpdk.commands) {
        out.push("```sh");
        out.push(r.dpdk.commands.vhost);
        out.push(r.dpdk.commands.virtio);
        out.push("```");
      }
    }
    out.push("");
  }
  const v = r.vhostUser;
  if (v) {
    out.push("## vhost-user: same back-end, two front-ends");
    out.push("");
    if (v.skipped) out.push(v.skipped);
    else {
      out.push(
        `A dpdk-testpmd back-end (a vhost-user port in flowgen mode: generates 64 B frames and counts what comes back) on CPU 1 faces, in turn, DPDK's front-end (testpmd, a virtio-user port in mac forwarding mode with port topology loop) and tpdk's (l2fwd with one busy-polling lcore on a net_virtio_user port forwarding to itself), each on CPU 0 with one forwarding core; both front-ends get the same keys (IN_ORDER, MRG_RXBUF, 256 entries; the ring layout per row). ` +
          `Each of the ${r.meta.options.repeat} back-end instances per ring layout runs DPDK's front-end, then tpdk's and DPDK's again (${r.meta.options.vuTpdkRuns ?? 1} time${(r.meta.options.vuTpdkRuns ?? 1) > 1 ? "s" : ""}) at each burst; tpdk/DPDK is the median over tpdk's runs of each run's rate over the mean of the DPDK runs just before and after it on the same instance (range in brackets), because on a shared host an instance has a level of its own. Delivered: what the back-end receives back. ${v.env?.version ?? ""}; ${v.env?.hugeNote ?? ""}.` +
          (v.rows.some((row) => row.lineMoves !== undefined)
            ? ` After every run, the back-end still running, one cache line bounced between CPUs 0 and 1 for ${fmt(o.lineMoveMs / 1000)} s names the host's level (column **line move (level)**, below): at the fast level a line moves about three times faster and both front-ends run faster, so compare ratios drawn at one level.`
            : ""),
      );
      out.push("");
      const t = vhostUserTable(r);
      if (t) out.push(renderMarkdown(t));
      out.push("");
      for (const row of v.rows) for (const f of row.failures) out.push(`- burst ${row.burst}: ${f.split("\n")[0]}`);
      if (v.commands) {
        out.push("```sh");
        out.push(v.commands.backEnd);
        out.push(v.commands.dpdk);
        out.push(v.commands.tpdk);
        out.push("```");
      }
    }
    out.push("");
  }
  const nv = r.netVhost;
  if (nv) {
    out.push("## net_vhost: same front-end, two back-ends");
    out.push("");
    if (nv.skipped) out.push(nv.skipped);
    else {
      out.push(
        `One dpdk-testpmd front-end (a net_virtio_user port in flowgen mode, burst 32: generates 64 B frames and counts what comes back) on CPU 1 faces, in alternating runs, DPDK's back-end (testpmd, a net_vhost port in mac forwarding mode with port topology loop) and tpdk's (l2fwd with one busy-polling lcore on a net_vhost port forwarding to itself, its rings processed inside rxBurst/txBurst), each on CPU 0 with one forwarding core; the front-end's keys: split ring, IN_ORDER, MRG_RXBUF, 256 entries. Delivered: what the front-end receives back. ${nv.env?.version ?? ""}; ${nv.env?.hugeNote ?? ""}.` +
          (nv.rows.some((row) => row.lineMoves !== undefined)
            ? ` After every run (no pair running) one cache line bounced between CPUs 0 and 1 for ${fmt(o.lineMoveMs / 1000)} s names the host's level around each tpdk run (column **line move (level)**).`
            : ""),
      );
      out.push("");
      const t = netVhostTable(r);
      if (t) out.push(renderMarkdown(t));
      out.push("");
      for (const row of nv.rows) for (const f of row.failures) out.push(`- burst ${row.burst}: ${f.split("\n")[0]}`);
      if (nv.commands) {
        out.push("```sh");
        out.push(nv.commands.frontEnd);
        out.push(nv.commands.dpdk);
        out.push(nv.commands.tpdk);
        out.push("```");
      }
    }
    out.push("");
  }
  if (r.failures.length > 0) {
    out.push("## Failed runs");
    out.push("");
    for (const f of r.failures) out.push(`- ${describe(f.config)}: ${f.error.split("\n")[0]}`);
    out.push("");
  }
  out.push("## Columns");
  out.push("");
  out.push("- **Mpps**: frames the sink received per second of the window (delivered end to end). **Gbit/s** counts each frame's size plus 20 bytes of preamble, start delimiter and inter-frame gap.");
  out.push("- **ns/pkt**: wall time per delivered frame (1e9 / pps): the cost per packet of the slowest stage.");
  out.push("- **kicks/pkt**, **traps/pkt**: the devices' transport counters per delivered frame (available-buffer notifications; register accesses through the trap mailbox). A busy-polling pair should show about 0 of both.");
  out.push("- **loss %**: frames l2fwd received but did not deliver (TX ring full drops, device TX drops) / frames received. **rx miss %**: frames the unpaced generator offered that found no RX buffer: the excess offer, not a loss of the pipeline. **e2e loss %** (latency runs, paced): sink sequence gaps / frames offered.");
  out.push("- **pkts/pass**: frames per l2fwd loop pass (received / passes over the whole run): how full the bursts are.");
  out.push("- **GC l/d/m**: garbage collections inside the window on the lcore, the device thread and the run's main thread (most in any repetition), counted from V8's `--trace-gc` output, each thread's isolate identified by a marker preloaded into every thread (`pipeline/gc-probe.cts`); a `?` means some GCs could not be attributed.");
  if ([...(r.vhostUser?.rows ?? []), ...(r.netVhost?.rows ?? [])].some((row) => row.lineMoves !== undefined)) {
    out.push(
      `- **line move (level)** (vhost-user, net-vhost): the median round trip of one cache line bounced between CPUs 0 and 1 (\`tools/line-move.js\`) in the gaps before and after each of the row's tpdk runs, lowest–highest, and the host's level it names: fast below ${FAST_LEVEL_BELOW_NS} ns (~150 ns in session 30), usual above (420–480 ns), mixed for a run whose two gaps disagree or whose gap spans both (its batches' p10 below, p90 above); runs at more than one level are counted per level, each level with its median tpdk/DPDK. Usual means not fast: DPDK's slow level (6–8 Mpps at burst 32) reads the same 420–480 ns.`,
    );
  }
  out.push("- **tpdk GC l/m** (vhost-user): the same count for tpdk's l2fwd process, traced the same way (`--trace-gc`, the marker on stderr): its lcore and its main thread.");
  out.push("- **CPU %**: CPU time the run's process got during the window over twice the window (two busy-polling threads), lowest of the repetitions. About 100 when the lcore and the device thread had their CPUs to themselves; lower means other processes took turns on them and the figures understate.");
  out.push(`- **runs**: repetitions measured; "tries" counts attempts when runs that got less than ${(100 * o.minCpuShare).toFixed(0)} % of their CPUs were retried (best attempt kept, at most ${o.retries} retries).`);
  out.push(`- **TX path**: the path forced with \`tx_mode=\`; in parentheses when the queue's counters show it used another for some frames.`);
  out.push("");
  return out.join("\n");
}

function fmtDuration(s: number): string {
  if (s < 120) return `${fmt(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

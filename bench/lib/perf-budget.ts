/**
 * A per-step budget from `perf script` text (cold, bench tools only): each sample of one CPU
 * inside a time window is given to a step by its symbol (tpdk's JIT functions, which node's
 * `--perf-basic-prof` names in /tmp/perf-<pid>.map, V8's builtins, DPDK's functions) and each
 * step's share of the CPU's samples is turned into ns per frame: share x 1e9 / rate. Pure:
 * the text in, the rows out (tools/perf-budget.ts runs perf and readelf).
 *
 * Stripped code (Debian's librte_* and dpdk-testpmd have no symbol table) is named by its
 * DSO and, when the caller gives the DSO's function ranges (`.eh_frame`'s FDEs, readelf),
 * the start of the function the sample is in: `librte_net_virtio.so.23.0+0x12520`. The DSO
 * offset comes from the MMAP events (`perf script --show-mmap-events`): ip - start + pgoff,
 * which is the function's address where the text segment's vaddr equals its file offset
 * (true of the DPDK 22.11 libraries and testpmd on the bench host; readelf -l shows it).
 */

/** One sample line of `perf script`. */
export interface PerfSample {
  comm: string;
  pid: number;
  cpu: number; // -1: the line has no [cpu] field
  time: number; // s, perf's clock (-k realtime: epoch s)
  ip: bigint;
  sym: string; // "[unknown]" where perf found none
  dso: string;
}

/** One executable mapping from an MMAP/MMAP2 event. */
export interface PerfMap {
  pid: number;
  start: bigint;
  len: bigint;
  pgoff: bigint;
  path: string;
}

export interface PerfScript {
  samples: PerfSample[];
  maps: PerfMap[];
  /** Lines that were neither a sample, an MMAP event nor a call-chain frame. */
  skipped: number;
}

// comm, pid[/tid], [cpu], time:, [period], event:, then ip, sym and (dso) (the sym may hold spaces and parens: the
// dso is the last parenthesized group). With -g the sample line ends after "event:" and the leaf frame is the next line.
const SAMPLE = /^\s*(.+?)\s+(-?\d+)(?:\/-?\d+)?\s+(?:\[(\d+)\]\s+)?(\d+\.\d+):\s+(?:\d+\s+)?(\S+):\s*(.*)$/;
const FRAME = /^\s*([0-9a-f]+)\s+(.*?)\s*\(([^()]*)\)\s*$/;
const MMAP = /PERF_RECORD_MMAP2?\s+(-?\d+)\/-?\d+:\s+\[0x([0-9a-f]+)\(0x([0-9a-f]+)\)\s+@\s+(0x[0-9a-f]+|0)\b[^\]]*\]:\s+(\S+)\s+(.+?)\s*$/;

/** Parse `perf script` text (any of its common field sets; `-F comm,pid,tid,cpu,time,event,ip,sym,dso --show-mmap-events` is what tools/perf-budget.js asks for). */
export function parsePerfScript(text: string): PerfScript {
  const samples: PerfSample[] = [];
  const maps: PerfMap[] = [];
  let skipped = 0;
  let pending: Omit<PerfSample, "ip" | "sym" | "dso"> | null = null; // a -g sample waiting for its leaf frame
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (pending) skipped++;
      pending = null;
      continue;
    }
    if (line.includes("PERF_RECORD_MMAP")) {
      const m = MMAP.exec(line);
      if (m && m[5]!.includes("x")) maps.push({ pid: Number(m[1]), start: BigInt(`0x${m[2]}`), len: BigInt(`0x${m[3]}`), pgoff: BigInt(m[4]!), path: m[6]! });
      continue;
    }
    if (pending) {
      const f = FRAME.exec(line);
      if (f) samples.push({ ...pending, ip: BigInt(`0x${f[1]}`), sym: symOf(f[2]!), dso: f[3]! });
      else skipped++;
      pending = null;
      continue;
    }
    if (/^\s+[0-9a-f]+\s/.test(line) && !SAMPLE.test(line)) continue; // a deeper call-chain frame
    const m = SAMPLE.exec(line);
    if (!m) {
      skipped++;
      continue;
    }
    const head = { comm: m[1]!, pid: Number(m[2]), cpu: m[3] === undefined ? -1 : Number(m[3]), time: Number(m[4]) };
    const rest = m[6]!;
    if (rest.trim() === "") {
      pending = head;
      continue;
    }
    const f = FRAME.exec(rest);
    if (!f) {
      skipped++;
      continue;
    }
    samples.push({ ...head, ip: BigInt(`0x${f[1]}`), sym: symOf(f[2]!), dso: f[3]! });
  }
  return { samples, maps, skipped };
}

/**
 * Samples perf left without a mapping ("[unknown]" DSO: perf record -C N keeps only its CPUs' MMAP events, and a
 * process that mapped its code on another CPU lost them) given the DSO of the mapping in `maps` that holds their
 * ip (e.g. MMAP events of a side-band recording, `perf record -a -e dummy`, appended to the text). In place.
 */
export function resolveUnmapped(script: PerfScript): number {
  let n = 0;
  for (const s of script.samples) {
    if (s.dso !== "[unknown]" || s.pid <= 0) continue;
    for (let i = script.maps.length - 1; i >= 0; i--) {
      const m = script.maps[i]!;
      if (m.pid === s.pid && s.ip >= m.start && s.ip < m.start + m.len) {
        s.dso = m.path;
        n++;
        break;
      }
    }
  }
  return n;
}

/** One entry of V8's /tmp/perf-<pid>.map (--perf-basic-prof): [start, end) and the name. */
export type JitEntry = [bigint, bigint, string];

/** A perf map file's entries ("START SIZE NAME", hex), sorted by start; the later of two at one start wins. */
export function parsePerfMap(text: string): JitEntry[] {
  const byStart = new Map<bigint, JitEntry>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(line);
    if (m) {
      const a = BigInt(`0x${m[1]}`);
      byStart.set(a, [a, a + BigInt(`0x${m[2]}`), m[3]!]);
    }
  }
  return [...byStart.values()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

function find<T extends readonly [bigint, bigint, ...unknown[]]>(list: readonly T[], x: bigint): T | null {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = list[mid]!;
    if (x < e[0]) hi = mid - 1;
    else if (x >= e[1]) lo = mid + 1;
    else return e;
  }
  return null;
}

/** perf's symbol without its +0xOFF (when the script was asked for symoff). */
function symOf(s: string): string {
  const t = s.trim();
  return t.replace(/\+0x[0-9a-f]+$/, "") || "[unknown]";
}

/** A function's code, [start, end) as a DSO file offset, and its name where the DSO has symbols (else named by DSO and start). */
export type CodeRange = [bigint, bigint, string?];

const byStart = (a: CodeRange, b: CodeRange): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** `readelf --debug-dump=frames` text: each FDE's [start, end) range (addresses), sorted by start. */
export function parseFdeRanges(text: string): CodeRange[] {
  const out: CodeRange[] = [];
  for (const m of text.matchAll(/\bFDE\b.*?\bpc=([0-9a-f]+)\.\.([0-9a-f]+)/g)) out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  return out.sort(byStart);
}

/** `nm -S --defined-only` text: each sized code symbol (t/T/w/W) as a named range (addresses), sorted by start. */
export function parseNmRanges(text: string): CodeRange[] {
  const out: CodeRange[] = [];
  for (const m of text.matchAll(/^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.+)$/gm)) {
    const a = BigInt(`0x${m[1]}`);
    const n = BigInt(`0x${m[2]}`);
    if (n > 0n) out.push([a, a + n, m[3]!]);
  }
  return out.sort(byStart);
}

/** `readelf -lW` text: the LOAD segments as [file offset, vaddr, file size]. */
export function parseLoads(text: string): [bigint, bigint, bigint][] {
  return [...text.matchAll(/^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)/gm)].map((m) => [BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)]);
}

/** Ranges from addresses (FDEs, symbols) to file offsets, which the samples' DSO offsets are (dsoOffset); outside every LOAD: left out. */
export function toFileOffsets(ranges: readonly CodeRange[], loads: readonly [bigint, bigint, bigint][]): CodeRange[] {
  const out: CodeRange[] = [];
  for (const r of ranges) {
    const l = loads.find(([, v, n]) => r[0] >= v && r[0] < v + n);
    if (l) out.push([r[0] - l[1] + l[0], r[1] - l[1] + l[0], ...(r[2] === undefined ? [] : [r[2]])] as CodeRange);
  }
  return out.sort(byStart);
}

/** The DSO's last path component. */
export function baseName(dso: string): string {
  return dso.slice(dso.lastIndexOf("/") + 1);
}

/**
 * The name a sample's code goes by: perf's symbol, or for [unknown] code in a DSO, the DSO's base name
 * and, with its function ranges, `+0x<function start>` (`+0x<offset>?` when no range holds it).
 */
export function nameOf(
  s: PerfSample,
  maps: readonly PerfMap[],
  ranges: ReadonlyMap<string, CodeRange[]>,
  jit: ReadonlyMap<number, JitEntry[]> = new Map(),
): string {
  if (s.sym !== "[unknown]" || s.dso === "[unknown]") return s.sym;
  if (s.dso === "//anon") return find(jit.get(s.pid) ?? [], s.ip)?.[2] ?? s.sym; // JIT code whose mapping perf did not see
  const base = baseName(s.dso);
  const fdes = ranges.get(s.dso);
  if (!fdes) return base;
  const off = dsoOffset(s, maps);
  if (off === null) return base;
  const f = find(fdes, off);
  return f ? (f[2] ?? `${base}+0x${f[0].toString(16)}`) : `${base}+0x${off.toString(16)}?`;
}

/** The sample's offset in its DSO's file, from the last executable mapping of that file in its process holding the ip. */
export function dsoOffset(s: PerfSample, maps: readonly PerfMap[]): bigint | null {
  for (let i = maps.length - 1; i >= 0; i--) {
    const m = maps[i]!;
    if (m.path === s.dso && (m.pid === s.pid || m.pid === -1) && s.ip >= m.start && s.ip < m.start + m.len) return s.ip - m.start + m.pgoff;
  }
  return null;
}

/** One step of the budget: a sample is the first rule's whose patterns (the name; the DSO) both match. */
export interface StepRule {
  step: string;
  name?: RegExp;
  dso?: RegExp;
  comm?: RegExp;
}

const NET_VIRTIO = /librte_net_virtio\.so/;
const TESTPMD = /dpdk-testpmd$/;
/** A stripped DPDK function by its start (Debian DPDK 22.11 on the bench host; sessions 17-25 named them from their code). */
const at = (step: string, dso: RegExp, ...starts: string[]): StepRule => ({ step, dso, name: new RegExp(`\\+0x(?:${starts.join("|")})$`) });
/** V8's perf-map name of JS code: `JS:`, an OSR mark, the tier mark and Node 26's quote (see DEFAULT_RULES). */
const JS_CODE = String.raw`^JS:o?\W{0,2}`;
/** tpdk's step by its functions' names (the name ends at the space before the source position). */
const js = (step: string, ...functions: string[]): StepRule => ({ step, name: new RegExp(`${JS_CODE}(?:${functions.join("|")}) `) });
/** tpdk's function by name in one file (`file`: the end of its path, e.g. `backend/rx-burst`), where names repeat across files. */
const jsIn = (step: string, file: string, ...functions: string[]): StepRule => ({
  step,
  name: new RegExp(`${JS_CODE}(?:${functions.join("|")}) \\S*${file.replace(/[/.]/g, "\\$&")}\\.[cm]?js:`),
});
/** Both rule sets' row for Mempool's private `cache()` (the lcore's cache slot), named by its file: `cache` is a common name. */
const MEMPOOL_CACHE_STEP = "mempool's lcore-cache lookup (Mempool.cache out of line; alloc and free)";

/**
 * The steps, in the order the table prints them: tpdk's functions (V8 keeps inlined callees' samples in
 * the caller's code, so a step is what its functions did, not all of that kind of work) and DPDK 22.11's
 * virtio PMD functions named by address (split IN_ORDER and packed paths; bench/notes/both-rings.md
 * "Session 20: burst 32 on the AMD host", bench/notes/packed-front-end.md "Session 25: packed burst 32").
 * A JS name is V8's perf-map name: `JS:` and the code's tier mark (`*` TurboFan, `+` Maglev, `^` Sparkplug, `~`
 * interpreted), which Node 26 writes `JS:*'txBurst` (a quote after the mark) and, for on-stack-replacement code,
 * `JS:o*l2fwdLoop` (l2fwd's loop under Node 26); Node 20: `JS:*txBurst`.
 */
export const DEFAULT_RULES: readonly StepRule[] = [
  js("RX poll and completion", "rxInOrder", "rxBurst", "rxGeneral", "rxValidating", "loadUsed", "loadUsedMore", "usedReady", "takeUsed", "linkRxSegment"),
  at("RX poll and completion", NET_VIRTIO, "12520", "116e0", "136d0"), // virtio_recv_pkts_inorder and the routine it calls; packed RX
  js("RX touch (packed: flags wait, frames' lines)", "touchAhead"),
  at("RX touch (packed: flags wait, frames' lines)", NET_VIRTIO, "10480"), // virtqueue_dequeue_burst_rx_packed
  js("RX refill (mbufs from the pool, descriptors)", "refillRing", "cacheGet", "getBulk", "allocBulk", "touchDescLines", "markInUse"),
  at("RX refill (mbufs from the pool, descriptors)", NET_VIRTIO, "10810"), // rte_pktmbuf_alloc_bulk's region
  js("mbuf reset", "resetMbuf", "reset"),
  js("app (loop, MAC rewrite, TX buffer)", "l2fwdLoop", "flush", "dropFrom", "run", "burst"),
  { step: "app (loop, MAC rewrite, TX buffer)", dso: TESTPMD }, // testpmd's mac forwarding and its loop (~0x7c400, ~0x84cb0)
  js("TX descriptors, header, publish", "txBurst", "publishTx", "pushHeader", "pushHeader12", "zeroHeader", "kickIfNeeded", "kickOrPrime", "fencedCheck", "fencedRangeCheck", "primeTx", "publish", "allocDesc", "txFence"),
  at("TX descriptors, header, publish", NET_VIRTIO, "15830", "14790"), // virtio_xmit_pkts_inorder; packed TX
  js("reclaim and free", "reclaim", "reclaimInOrder", "freeBulk", "fastFreeBulk", "putBulk", "putRaw", "markFree", "freeDesc", "takeBack"),
  at("reclaim and free", NET_VIRTIO, "11400", "10da0", "11060"),
  // Mempool's lookup of the calling lcore's cache, when V8 leaves it out of line (alloc and free both call it).
  jsIn(MEMPOOL_CACHE_STEP, "mempool", "cache"),
  js("statistics", "countFrame", "countRareTx", "sizeRun", "sizeRunEnd", "sizeBinOf"),
  at("statistics", NET_VIRTIO, "11640"), // virtio_update_packet_stats
  { step: "idle passes (the lcore's backoff)", name: new RegExp(`${JS_CODE}idle .*backoff`) },
  { step: "Atomics.load builtin", name: /^Builtins?_?AtomicsLoad/ },
  { step: "Atomics.store builtin", name: /^Builtins?_?AtomicsStore/ },
  { step: "DPDK virtio PMD, other", dso: NET_VIRTIO },
  { step: "DPDK, other librte_*", dso: /librte_/ },
  { step: "other JS", name: /^JS:/ },
  { step: "V8 and node, other (GC, builtins, runtime)", dso: /\/node$|perf-\d+\.map$/ },
  { step: "kernel", dso: /kernel\.kallsyms|\[vdso\]/ },
];

const VHOST = /librte_vhost\.so/;
const NET_VHOST = /librte_net_vhost\.so/;
/**
 * The steps of a vhost-user **back-end** (the net-vhost section, `--steps net-vhost`): tpdk's net_vhost
 * (packages/vhost-user backend/, its bursts inside l2fwd's lcore) and DPDK 22.11's vhost library with
 * testpmd's net_vhost. "dequeue" takes the front-end's TX ring into mbufs (tpdk rxBurst, DPDK
 * rte_vhost_dequeue_burst), "enqueue" writes mbufs into the front-end's RX buffers (tpdk txBurst, DPDK
 * rte_vhost_enqueue_burst). DPDK's stripped librte_vhost by function start: the addresses are those of the
 * static functions in Debian's librte_vhost.a (same objects: nm gives each its offset in virtio_net.c.o's
 * .text, which starts at 0x33c20 in the .so; rte_vhost_enqueue_burst and rte_vhost_dequeue_burst, exported,
 * check it), net_vhost's likewise (+0x3260). DPDK inlines the walk, the header and the used ring into
 * its burst functions, so its rows are coarser than tpdk's (bench/notes/net-vhost.md "Session 36: net_vhost budget at burst 32").
 */
export const NET_VHOST_RULES: readonly StepRule[] = [
  // copyRun and writeRun: the takeSimple runs' per-frame loops, methods of their own (sessions 37, 38), with
  // copy and the mbuf fields (RX) and writeOneBuffer (TX) inlined when V8 does: their step's work.
  jsIn("dequeue: burst body, descriptors' touch, mbuf fields, copy inlined", "backend/rx-burst", "rxBurst", "walkAhead", "gather", "copyRun"),
  at("dequeue: burst body, descriptors' touch, mbuf fields, copy inlined", VHOST, "8ca20", "845e0", "950d0"), // virtio_dev_tx_split_compliant, _legacy, rte_vhost_dequeue_burst
  { step: "dequeue: burst body, descriptors' touch, mbuf fields, copy inlined", dso: VHOST, name: /^rte_vhost_dequeue_burst$/ },
  at("dequeue: frame copies (DPDK's batched after the walk)", VHOST, "355e0"), // do_data_copy_dequeue
  jsIn("copy out of line (net-frame.js; either burst)", "backend/net-frame", "copy"),
  jsIn("descriptors taken and checked (takeSimple, walk; both rings)", "backend/guest-queue", "takeSimple", "next", "nextMore", "walkNext", "touchDescriptors"),
  js("descriptors taken and checked (takeSimple, walk; both rings)", "walk", "takeSimple"),
  // initSegment (session 40): the fresh mbuf's reset and its frame's fields in one pass, out of copyRun when V8 does not inline it.
  js("mbuf alloc", "allocBulk", "cacheGet", "getBulk", "alloc", "initSegment"),
  at("mbuf alloc", VHOST, "343d0", "34740"), // rte_pktmbuf_alloc_bulk, rte_pktmbuf_alloc
  // Out of writeOneBuffer's inlining budget since session 41's copy (bench/notes/net-vhost.md "Session 41: net_vhost
  // at burst 32: the frame copy four words a step"): "other JS" before.
  jsIn(MEMPOOL_CACHE_STEP, "mempool", "cache"),
  js("app (loop, MAC rewrite)", "l2fwdLoop"),
  { step: "app (loop, MAC rewrite)", dso: TESTPMD },
  jsIn("enqueue: header and frame into the front-end's RX buffers, mbuf freed", "backend/tx-burst", "writeOneBuffer", "writeRun", "fill"),
  at("enqueue: header and frame into the front-end's RX buffers, mbuf freed", VHOST, "7dd50", "38770", "36e20"), // virtio_dev_rx_split, do_data_copy_enqueue, copy_vnet_hdr_to_desc
  at("enqueue: header and frame into the front-end's RX buffers, mbuf freed", NET_VHOST, "5050"), // rte_pktmbuf_free (net_vhost's eth_vhost_tx frees)
  // putRaw: put's and putBulk's body (the lcore cache or the ring), out of line when a caller inlined freeBulk
  // (session 39's variant, freeBulk inlined into writeRun: 1.4-2.2 ns per frame).
  js("enqueue: header and frame into the front-end's RX buffers, mbuf freed", "free", "freeBulk", "put", "putBulk", "putRaw", "prefree"),
  jsIn("enqueue: burst body (fit tests, touches; DPDK: the avail reservation)", "backend/tx-burst", "txBurst", "walkAhead", "fitsOneBuffer"),
  at("enqueue: burst body (fit tests, touches; DPDK: the avail reservation)", VHOST, "33de0", "94e40"), // reserve_avail_buf_split, rte_vhost_enqueue_burst
  { step: "enqueue: burst body (fit tests, touches; DPDK: the avail reservation)", dso: VHOST, name: /^rte_vhost_enqueue_burst$/ },
  js("used entries, publish, ring handshake (both rings)", "addUsedRun", "usedRun", "addUsed", "usedAs", "used", "publish", "begin", "end", "available", "pollAvail"),
  at("PMD wrappers, statistics (DPDK net_vhost's eth_vhost_rx/tx)", NET_VHOST, "4230", "5310"),
  { step: "PMD wrappers, statistics (DPDK net_vhost's eth_vhost_rx/tx)", dso: NET_VHOST },
  { step: "Atomics.load builtin", name: /^Builtins?_?AtomicsLoad/ },
  { step: "Atomics.store builtin", name: /^Builtins?_?AtomicsStore/ },
  { step: "DPDK vhost, other", dso: VHOST },
  { step: "DPDK, other librte_*", dso: /librte_/ },
  { step: "other JS", name: /^JS:/ },
  { step: "V8 and node, other (GC, builtins, runtime)", dso: /\/node$|perf-\d+\.map$/ },
  { step: "kernel", dso: /kernel\.kallsyms|\[vdso\]/ },
];

export const IDLE_STEP = "idle (swapper)";
export const OTHER_STEP = "other";
export const OTHER_PROCESSES = "other processes (the bench's driver, the kernel's threads, other users)";

export interface Window {
  label: string;
  from: number;
  to: number;
  /** The delivered rate in the window, Mpps. */
  mpps: number;
  /** The measured front-end's process: samples of any other process (idle aside) go to OTHER_PROCESSES. */
  pid?: number;
}

export interface BudgetColumn {
  window: Window;
  /** The runs' rates when this column is the mean of several windows (mergeRuns). */
  runs?: number[];
  /** The CPU's samples in the window (every process, idle included). */
  samples: number;
  /** Per step: samples, and the names seen in it with their samples, highest first. */
  steps: Map<string, { samples: number; names: [string, number][] }>;
}

/** Samples of `cpu` (-1: every line) in each window, by step; ns per frame = samples / all x 1e9 / (mpps x 1e6). */
export function budget(
  script: PerfScript,
  cpu: number,
  windows: readonly Window[],
  rules: readonly StepRule[] = DEFAULT_RULES,
  ranges: ReadonlyMap<string, CodeRange[]> = new Map(),
  jit: ReadonlyMap<number, JitEntry[]> = new Map(),
): BudgetColumn[] {
  return windows.map((w) => {
    const names = new Map<string, Map<string, number>>();
    let samples = 0;
    for (const s of script.samples) {
      if ((cpu >= 0 && s.cpu !== cpu) || s.time < w.from || s.time >= w.to) continue;
      samples++;
      const name = nameOf(s, script.maps, ranges, jit);
      const step = w.pid !== undefined && s.pid !== w.pid && s.pid !== 0 ? OTHER_PROCESSES : stepOf(s, name, rules);
      const m = names.get(step) ?? names.set(step, new Map()).get(step)!;
      m.set(name, (m.get(name) ?? 0) + 1);
    }
    const steps = new Map<string, { samples: number; names: [string, number][] }>();
    for (const [step, m] of names) {
      const list = [...m.entries()].sort((a, b) => b[1] - a[1]);
      steps.set(step, { samples: list.reduce((t, [, n]) => t + n, 0), names: list });
    }
    return { window: w, samples, steps };
  });
}

/** Rules that make every name its own step (a function-by-function table, e.g. of the back-end's CPU). */
export const BY_NAME: readonly StepRule[] = [];

function stepOf(s: PerfSample, name: string, rules: readonly StepRule[]): string {
  if (s.pid === 0 || s.comm === "swapper") return IDLE_STEP;
  if (rules === BY_NAME) return name;
  for (const r of rules) {
    if (r.name && !r.name.test(name)) continue;
    if (r.dso && !r.dso.test(s.dso)) continue;
    if (r.comm && !r.comm.test(s.comm)) continue;
    return r.step;
  }
  return OTHER_STEP;
}

/**
 * Columns of the same label as one column each (first appearance's order): each step's ns per frame the mean of
 * the runs' (a step absent from a run counts 0 there), the total the mean of 1e9 / rate. Names keep their mean too.
 */
export function mergeRuns(cols: readonly BudgetColumn[]): BudgetColumn[] {
  const groups = new Map<string, BudgetColumn[]>();
  for (const c of cols) (groups.get(c.window.label) ?? groups.set(c.window.label, []).get(c.window.label)!).push(c);
  const out: BudgetColumn[] = [];
  for (const [label, g] of groups) {
    if (g.length === 1) {
      out.push(g[0]!);
      continue;
    }
    const total = g.reduce((t, c) => t + 1e3 / c.window.mpps, 0) / g.length; // ns per frame
    const VIRTUAL = 1e6; // samples of the merged column: a step's ns = its samples / VIRTUAL x total
    const acc = new Map<string, Map<string, number>>();
    for (const c of g) {
      for (const [step, v] of c.steps) {
        const m = acc.get(step) ?? acc.set(step, new Map()).get(step)!;
        for (const [n, k] of v.names) m.set(n, (m.get(n) ?? 0) + (nsPerFrame(c, k) / g.length / total) * VIRTUAL);
      }
    }
    const steps = new Map<string, { samples: number; names: [string, number][] }>();
    for (const [step, m] of acc) {
      const names = [...m.entries()].sort((a, b) => b[1] - a[1]);
      steps.set(step, { samples: names.reduce((t, [, k]) => t + k, 0), names });
    }
    const w = g[0]!.window;
    out.push({ window: { label, from: w.from, to: g.at(-1)!.window.to, mpps: 1e3 / total }, runs: g.map((c) => c.window.mpps), samples: VIRTUAL, steps });
  }
  return out;
}

/** ns per delivered frame of a step in a column. */
export function nsPerFrame(col: BudgetColumn, samples: number): number {
  return col.samples === 0 ? 0 : (samples / col.samples) * (1e3 / col.window.mpps);
}

/** The budget as a Markdown table: one row per step that has samples (rules' order, then idle, other), one column per window; a total row (1e9 / rate). */
export function budgetTable(cols: readonly BudgetColumn[], rules: readonly StepRule[] = DEFAULT_RULES, top = 0): string {
  const head = `| step | ${cols.map((c) => (c.runs ? `${c.window.label} (mean of ${c.runs.length} runs: ${c.runs.map((r) => r.toFixed(2)).join(" ")} Mpps)` : `${c.window.label} (${c.window.mpps.toFixed(2)} Mpps, ${c.samples} samples)`)).join(" | ")} |`;
  let order = [...new Set([...rules.map((r) => r.step), OTHER_STEP, OTHER_PROCESSES, IDLE_STEP])].filter((st) => cols.some((c) => c.steps.has(st)));
  if (rules === BY_NAME) {
    // The names, heaviest (summed over the columns) first; the top N when top > 0, the rest in one row.
    const sum = new Map<string, number>();
    for (const c of cols) for (const [st, v] of c.steps) sum.set(st, (sum.get(st) ?? 0) + nsPerFrame(c, v.samples));
    order = [...sum.entries()].sort((a, b) => b[1] - a[1]).map(([st]) => st);
    const shown = top > 0 ? order.slice(0, top) : order;
    const rest = order.slice(shown.length);
    const lines = [head, `|---|${cols.map(() => "---:|").join("")}`];
    for (const st of shown) lines.push(`| ${shortName(st)} | ${cols.map((c) => fmt(nsPerFrame(c, c.steps.get(st)?.samples ?? 0))).join(" | ")} |`);
    if (rest.length) lines.push(`| the rest (${rest.length} names) | ${cols.map((c) => fmt(rest.reduce((t, st) => t + nsPerFrame(c, c.steps.get(st)?.samples ?? 0), 0))).join(" | ")} |`);
    lines.push(`| **total** | ${cols.map((c) => `**${fmt(c.samples === 0 ? 0 : 1e3 / c.window.mpps)}**`).join(" | ")} |`);
    return lines.join("\n");
  }
  const lines = [head, `|---|${cols.map(() => "---:|").join("")}`];
  for (const st of order) {
    lines.push(`| ${st} | ${cols.map((c) => fmt(nsPerFrame(c, c.steps.get(st)?.samples ?? 0))).join(" | ")} |`);
    if (top > 0) {
      for (const c of cols) {
        const names = c.steps.get(st)?.names.slice(0, top) ?? [];
        for (const [n, k] of names) lines.push(`|   ${c.window.label}: ${shortName(n)} | ${cols.map((x) => (x === c ? fmt(nsPerFrame(c, k)) : "")).join(" | ")} |`);
      }
    }
  }
  lines.push(`| **total** | ${cols.map((c) => `**${fmt(c.samples === 0 ? 0 : 1e3 / c.window.mpps)}**`).join(" | ")} |`);
  return lines.join("\n");
}

/** A name for the table: a JS function's URL cut to its file name (`JS:*rxInOrder rxq.js:137:14`), anything longer than 90 characters cut. */
export function shortName(n: string): string {
  const s = n.replace(/ (?:file:\/\/)?\/\S*\/([^/\s]+)$/, " $1");
  return s.length > 90 ? `${s.slice(0, 87)}...` : s;
}

function fmt(ns: number): string {
  return ns.toFixed(1);
}

/** Per process on `cpu` (-1: all): samples and the span of their times, most samples first (to choose windows). */
export function processes(script: PerfScript, cpu: number): { pid: number; comm: string; samples: number; first: number; last: number }[] {
  const by = new Map<number, { pid: number; comm: string; samples: number; first: number; last: number }>();
  for (const s of script.samples) {
    if (cpu >= 0 && s.cpu !== cpu) continue;
    const p = by.get(s.pid);
    if (!p) by.set(s.pid, { pid: s.pid, comm: s.comm, samples: 1, first: s.time, last: s.time });
    else {
      p.samples++;
      if (s.time < p.first) p.first = s.time;
      if (s.time > p.last) p.last = s.time;
    }
  }
  return [...by.values()].sort((a, b) => b.samples - a.samples);
}

/** The window [last - a, last - b] of a process's samples on `cpu` (a run's measured window ends just before its process is stopped). */
export function tailWindow(script: PerfScript, cpu: number, pid: number, a: number, b: number): { from: number; to: number } | null {
  const p = processes(script, cpu).find((x) => x.pid === pid);
  return p ? { from: p.last - a, to: p.last - b } : null;
}

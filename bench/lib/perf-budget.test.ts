import { describe, expect, it } from "vitest";
import {
  BY_NAME,
  NET_VHOST_RULES,
  budget,
  budgetTable,
  mergeRuns,
  nameOf,
  nsPerFrame,
  parseFdeRanges,
  parseLoads,
  parseNmRanges,
  parsePerfMap,
  parsePerfScript,
  processes,
  resolveUnmapped,
  shortName,
  tailWindow,
  toFileOffsets,
} from "./perf-budget.js";

// Recorded 2026-12-06 19:21 UTC (perf record -C 0 -e cpu-clock -F 2999 -k realtime over a vu-shared split b32
// batch; perf script -F comm,pid,tid,cpu,time,event,ip,sym,dso --show-mmap-events), lines picked and times
// moved so that a window holds them: DPDK's front-end (testpmd, pid 12699: stripped, no comm), tpdk's l2fwd
// (pid 12716, its lcore thread 12727, JIT names from /tmp/perf-12716.map), idle, the kernel, a C++ name with
// parens, an MMAP event of a mapping that is not executable, and one line that is none of these.
const D = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_virtio.so.23.0";
const fixture = `
    dpdk-testpmd 12699/12699 [000] 1796584859.708623: PERF_RECORD_MMAP2 12699/12699: [0x55b3e99f2000(0x59000) @ 0x40000 fe:00 2170951 577215695]: r-xp /usr/bin/dpdk-testpmd
    dpdk-testpmd 12699/12699 [000] 1796584859.830492: PERF_RECORD_MMAP2 12699/12699: [0x7fb4e2a63000(0x19000) @ 0x4000 fe:00 5595816 2075654147]: r-xp ${D}
    dpdk-testpmd 12699/12699 [000] 1796584859.830500: PERF_RECORD_MMAP2 12699/12699: [0x7fb4e2a7c000(0xa000) @ 0x1d000 fe:00 5595816 2075654147]: r--p ${D}
          :12703 12699/12703 [000] 1796584860.717239: cpu-clock:      7fb4e2a71eae [unknown] (${D})
          :12703 12699/12703 [000] 1796584860.717572: cpu-clock:      7fb4e2a71573 [unknown] (${D})
          :12703 12699/12703 [000] 1796584860.717904: cpu-clock:      55b3e9a2e4a2 [unknown] (/usr/bin/dpdk-testpmd)
          :12703 12699/12703 [000] 1796584860.718239: cpu-clock:      7fb4e2a7bfff [unknown] (${D})
         swapper     0/0     [000] 1796584860.718500: cpu-clock:  ffffffff82242055 pvm_safe_halt_hc ([kernel.kallsyms])
            node 12716/12727 [000] 1796584861.981641: cpu-clock:      7f82e406e9a7 JS:^rxInOrder file:///work/main/packages/virtio-pmd/dist/rxq.js:137:14 (/tmp/perf-12716.map)
            node 12716/12727 [000] 1796584862.064336: cpu-clock:      7f82e40883b8 JS:*refillRing file:///work/main/packages/virtio-pmd/dist/rxq.js:622:15 (/tmp/perf-12716.map)
            node 12716/12727 [000] 1796584862.064670: cpu-clock:      7f82e40883b8 JS:*refillRing file:///work/main/packages/virtio-pmd/dist/rxq.js:622:15 (/tmp/perf-12716.map)
            node 12716/12727 [000] 1796584862.065000: cpu-clock:      7f8303ec311c Builtins_AtomicsStore (/usr/bin/node)
            node 12716/12727 [000] 1796584862.065330: cpu-clock:      7f82e40a1000 JS:*txBurst file:///work/main/packages/virtio-pmd/dist/txq.js:114:12 (/tmp/perf-12716.map)
            node 12716/12716 [000] 1796584862.065660: cpu-clock:           129f860 v8::internal::(anonymous namespace)::ElementsAccessorBase<v8::internal::(anonymous namespace)::FastPackedObjectElementsAccessor>::Unshift (/usr/bin/node)
    kworker/0:2-eve  7571/7571  [000] 1796584862.066000: cpu-clock:  ffffffff8110a2b1 process_one_work ([kernel.kallsyms])
            node 12716/12727 [001] 1796584862.066100: cpu-clock:      7f82e406e9a7 JS:*rxInOrder file:///work/main/packages/virtio-pmd/dist/rxq.js:137:14 (/tmp/perf-12716.map)
this line is not perf script output
`;

// readelf --debug-dump=frames of librte_net_virtio.so.23.0 (two FDEs of 393, one CIE).
const frames = `
00000000 0000000000000014 00000000 CIE
  Version:               1
00001afc 0000000000000048 00001b00 FDE cie=00000000 pc=00000000000116e0..0000000000011a30
00001cc8 000000000000002c 00001ccc FDE cie=00000000 pc=0000000000012520..0000000000012ee0
`;

describe("perf-budget", () => {
  const script = parsePerfScript(fixture);

  it("parses samples (comm with a colon, C++ names with parens, the CPU, the time) and executable mappings only", () => {
    expect(script.samples).toHaveLength(13);
    expect(script.skipped).toBe(1);
    expect(script.maps.map((m) => [m.path.split("/").pop(), m.start.toString(16), m.pgoff.toString(16)])).toEqual([
      ["dpdk-testpmd", "55b3e99f2000", "40000"],
      ["librte_net_virtio.so.23.0", "7fb4e2a63000", "4000"],
    ]);
    const dpdk = script.samples[0]!;
    expect([dpdk.comm, dpdk.pid, dpdk.cpu, dpdk.time, dpdk.sym, dpdk.dso]).toEqual([":12703", 12699, 0, 1796584860.717239, "[unknown]", D]);
    expect(script.samples[10]!.sym).toBe("v8::internal::(anonymous namespace)::ElementsAccessorBase<v8::internal::(anonymous namespace)::FastPackedObjectElementsAccessor>::Unshift");
    expect(script.samples[11]!.comm).toBe("kworker/0:2-eve");
    expect(script.samples[12]!.cpu).toBe(1);
  });

  it("parses perf's default output (no CPU, a period) and -g call chains (the leaf frame)", () => {
    const s = parsePerfScript(
      [
        "            node 11428 1796584720.518178:    1001001 cpu-clock:      7fd01e68fe84 search_cache+0xf4 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)",
        "node 12716/12727 [000] 1796584862.1: cpu-clock:ppp: ",
        "\t    7f8303ec311c Builtins_AtomicsStore+0x1c (/usr/bin/node)",
        "\t    7f82e40a1000 JS:*txBurst file:///x/txq.js:114:12 (/tmp/perf-12716.map)",
        "",
      ].join("\n"),
    );
    expect(s.samples.map((x) => [x.pid, x.cpu, x.sym])).toEqual([
      [11428, -1, "search_cache"],
      [12716, 0, "Builtins_AtomicsStore"],
    ]);
  });

  it("names stripped code by the .eh_frame function holding its DSO offset (ip - map start + pgoff), by DSO without ranges", () => {
    const ranges = new Map([[D, parseFdeRanges(frames)]]);
    expect(ranges.get(D)!.map(([a, b]) => [a.toString(16), b.toString(16)])).toEqual([
      ["116e0", "11a30"],
      ["12520", "12ee0"],
    ]);
    const names = script.samples.slice(0, 4).map((s) => nameOf(s, script.maps, ranges));
    // 0x7fb4e2a71eae - 0x7fb4e2a63000 + 0x4000 = 0x12eae (virtio_recv_pkts_inorder); 0x12573; testpmd without ranges; 0x1cfff in no FDE.
    expect(names).toEqual(["librte_net_virtio.so.23.0+0x12520", "librte_net_virtio.so.23.0+0x12520", "dpdk-testpmd", "librte_net_virtio.so.23.0+0x1cfff?"]);
    expect(nameOf(script.samples[0]!, script.maps, new Map())).toBe("librte_net_virtio.so.23.0");
    expect(nameOf(script.samples[5]!, script.maps, ranges)).toBe("JS:^rxInOrder file:///work/main/packages/virtio-pmd/dist/rxq.js:137:14");
  });

  it("gives each sample of the CPU in the window its step; ns per frame = share x 1e9 / rate", () => {
    const ranges = new Map([[D, parseFdeRanges(frames)]]);
    const [dpdk, tpdk] = budget(
      script,
      0,
      [
        { label: "DPDK", from: 1796584860.7, to: 1796584860.9, mpps: 10 },
        { label: "tpdk", from: 1796584861.9, to: 1796584862.1, mpps: 8 },
      ],
      undefined,
      ranges,
    );
    // DPDK: 5 samples: 2 in virtio_recv_pkts_inorder (RX), testpmd (app), the sample in no function (the PMD's other), idle.
    expect(dpdk!.samples).toBe(5);
    expect([...dpdk!.steps].map(([k, v]) => [k, v.samples])).toEqual([
      ["RX poll and completion", 2],
      ["app (loop, MAC rewrite, TX buffer)", 1],
      ["DPDK virtio PMD, other", 1],
      ["idle (swapper)", 1],
    ]);
    expect(nsPerFrame(dpdk!, 2)).toBeCloseTo(40); // 2/5 of 100 ns
    // tpdk: 7 samples of CPU 0 (the one on CPU 1 left out): RX, refill x2, Atomics.store, TX, V8 (main thread), a kworker.
    expect(tpdk!.samples).toBe(7);
    expect(tpdk!.steps.get("RX refill (mbufs from the pool, descriptors)")!.samples).toBe(2);
    expect(tpdk!.steps.get("Atomics.store builtin")!.samples).toBe(1);
    expect(tpdk!.steps.get("TX descriptors, header, publish")!.samples).toBe(1);
    expect(tpdk!.steps.get("V8 and node, other (GC, builtins, runtime)")!.samples).toBe(1);
    expect(tpdk!.steps.get("kernel")!.samples).toBe(1);
    const table = budgetTable([dpdk!, tpdk!], undefined, 1).split("\n");
    expect(table[0]).toBe("| step | DPDK (10.00 Mpps, 5 samples) | tpdk (8.00 Mpps, 7 samples) |");
    expect(table).toContain("| RX poll and completion | 40.0 | 17.9 |");
    expect(table).toContain("|   tpdk: JS:^rxInOrder rxq.js:137:14 |  | 17.9 |");
    expect(table).toContain("| RX refill (mbufs from the pool, descriptors) | 0.0 | 35.7 |");
    expect(table.at(-1)).toBe("| **total** | **100.0** | **125.0** |");
    expect(table.findIndex((l) => l.startsWith("| idle"))).toBeGreaterThan(table.findIndex((l) => l.startsWith("| kernel")));
  });

  it("with the front-end's pid, other processes' samples are one row (idle stays idle)", () => {
    const [c] = budget(script, 0, [{ label: "tpdk", from: 1796584860.7, to: 1796584862.1, mpps: 8, pid: 12716 }]);
    expect(c!.steps.get("other processes (the bench's driver, the kernel's threads, other users)")!.names).toEqual([
      ["librte_net_virtio.so.23.0", 3],
      ["dpdk-testpmd", 1],
      ["process_one_work", 1],
    ]);
    expect(c!.steps.get("idle (swapper)")!.samples).toBe(1);
    expect(c!.steps.get("V8 and node, other (GC, builtins, runtime)")!.samples).toBe(1); // its main thread
  });

  it("puts Node 26's JS names (JS:*'txBurst, JS:o*l2fwdLoop: OSR) in their steps as Node 20's", () => {
    const lines = [
      "JS:*'txBurst file:///w/packed-txq.js:220:12",
      "JS:+'rxInOrder file:///w/packed-rxq.js:300:3",
      "JS:*'refillRing file:///w/packed-rxq.js:600:3",
      "JS:o*l2fwdLoop file:///w/lcore-loop.js:28:32",
      "JS:*'pushHeader12 file:///w/push-header.js:60:8", // V8 14 calls it from split txBurst's one-frame step
    ]
      .map((n, i) => `            node 5/6 [000] 100.${i + 1}00000: cpu-clock:      7f0000000${i}00 ${n} (/tmp/perf-5.map)`)
      .join("\n");
    const [c] = budget(parsePerfScript(lines), 0, [{ label: "n26", from: 100, to: 101, mpps: 1, pid: 5 }]);
    expect(c!.steps.get("TX descriptors, header, publish")?.samples).toBe(2);
    expect(c!.steps.get("RX poll and completion")?.samples).toBe(1);
    expect(c!.steps.get("RX refill (mbufs from the pool, descriptors)")?.samples).toBe(1);
    expect(c!.steps.get("app (loop, MAC rewrite, TX buffer)")?.samples).toBe(1);
    expect(c!.steps.get("other JS")).toBeUndefined();
  });

  it("BY_NAME: one row per name, heaviest first, the top N and the rest in one row", () => {
    const ranges = new Map([[D, parseFdeRanges(frames)]]);
    const cols = budget(script, 0, [{ label: "all", from: 1796584860, to: 1796584863, mpps: 1 }], BY_NAME, ranges);
    expect(budgetTable(cols, BY_NAME, 2).split("\n").slice(2)).toEqual([
      "| librte_net_virtio.so.23.0+0x12520 | 166.7 |",
      "| JS:*refillRing rxq.js:622:15 | 166.7 |",
      "| the rest (8 names) | 666.7 |",
      "| **total** | **1000.0** |",
    ]);
  });

  it("places samples perf left unmapped by side-band MMAP events: stripped code by .eh_frame, JIT code by V8's perf map", () => {
    // Recorded with perf -C 0 at 19:22 UTC: this testpmd and this l2fwd mapped their code on CPU 1 (no MMAP events in
    // the -C 0 recording); the side-band lines as perf record -a -e dummy writes them.
    const s = parsePerfScript(
      [
        `          :12793 12791/12793 [000] 1796584928.785163: cpu-clock:      7fb4e2a71eae [unknown] ([unknown])`,
        `            node 12716/12727 [000] 1796584928.785493: cpu-clock:      7f82e406e9a7 [unknown] ([unknown])`,
        `            node 12716/12727 [000] 1796584928.785823: cpu-clock:      7f0000000000 [unknown] ([unknown])`,
        `    dpdk-testpmd 12791/12791 [001] 1796584927.830492: PERF_RECORD_MMAP2 12791/12791: [0x7fb4e2a63000(0x19000) @ 0x4000 fe:00 5595816 2075654147]: r-xp ${D}`,
        `            node 12716/12716 [001] 1796584927.620025: PERF_RECORD_MMAP2 12716/12716: [0x7f82e4000000(0x100000) @ 0x7f82e4000000 00:00 0 0]: rwxp //anon`,
      ].join("\n"),
    );
    expect(resolveUnmapped(s)).toBe(2);
    expect(s.samples.map((x) => x.dso)).toEqual([D, "//anon", "[unknown]"]);
    const jit = new Map([
      [12716, parsePerfMap("7f82e406e900 1a0 JS:*rxInOrder file:///w/rxq.js:137:14\n7f82e406e900 200 JS:*rxInOrder file:///w/rxq.js:137:14\n7f82e4070000 40 JS:*txBurst file:///w/txq.js:1:1\n")],
    ]);
    expect(jit.get(12716)!.map((e) => e[1] - e[0])).toEqual([0x200n, 0x40n]); // the later entry at one start wins
    const ranges = new Map([[D, parseFdeRanges(frames)]]);
    expect(s.samples.map((x) => nameOf(x, s.maps, ranges, jit))).toEqual([
      "librte_net_virtio.so.23.0+0x12520",
      "JS:*rxInOrder file:///w/rxq.js:137:14",
      "[unknown]",
    ]);
    const [c] = budget(s, 0, [{ label: "x", from: 1796584928, to: 1796584929, mpps: 1 }], undefined, ranges, jit);
    expect(c!.steps.get("RX poll and completion")!.samples).toBe(2);
  });

  it("names code in a DSO with symbols by nm's ranges, as file offsets through readelf -l's LOADs (node: vaddr != offset)", () => {
    // node v20.20.2's binary: its text LOAD at file offset 0x772000, vaddr 0xb72000; perf -C 0 missed this l2fwd's MMAP events.
    const loads = parseLoads(
      [
        "  LOAD           0x000000 0x0000000000400000 0x0000000000400000 0x76e5d8 0x76e5d8 R   0x1000",
        "  LOAD           0x772000 0x0000000000b72000 0x0000000000b72000 0x1a8bca0 0x1a8bca0 R E 0x1000",
      ].join("\n"),
    );
    const nm = parseNmRanges("0000000001946780 0000000000000838 t Builtins_AtomicsLoad\n0000000001946fc0 000000000000088c t Builtins_AtomicsStore\n0000000000b80000 0000000000000000 T empty\n00000000056a0000 0000000000000010 d data\n");
    expect(nm.map((r) => r[2])).toEqual(["Builtins_AtomicsLoad", "Builtins_AtomicsStore"]);
    const node = "/usr/bin/node";
    const s = parsePerfScript(
      [
        `            node 12716/12716 [001] 1796584927.5: PERF_RECORD_MMAP2 12716/12716: [0xb72000(0x1a8c000) @ 0x772000 fe:00 260689 0]: r-xp ${node}`,
        "            node 12716/12727 [000] 1796584928.1: cpu-clock:      1946fd0 [unknown] ([unknown])",
      ].join("\n"),
    );
    resolveUnmapped(s);
    const ranges = new Map([[node, toFileOffsets(nm, loads)]]);
    expect(ranges.get(node)![1]!.slice(0, 2)).toEqual([0x1546fc0n, 0x154784cn]);
    expect(nameOf(s.samples[0]!, s.maps, ranges)).toBe("Builtins_AtomicsStore");
  });

  it("merges columns of one label into the mean of their runs' ns per frame", () => {
    const cols = budget(script, 0, [
      { label: "tpdk", from: 1796584861.9, to: 1796584862.0, mpps: 10 }, // rxInOrder only: 100 ns RX
      { label: "DPDK", from: 1796584860.7, to: 1796584860.9, mpps: 10 },
      { label: "tpdk", from: 1796584862.0, to: 1796584862.1, mpps: 5 }, // 6 samples: refill 2 of 6 of 200 ns
    ]);
    const merged = mergeRuns(cols);
    expect(merged.map((c) => c.window.label)).toEqual(["tpdk", "DPDK"]);
    const t = merged[0]!;
    expect(t.runs).toEqual([10, 5]);
    expect(1e3 / t.window.mpps).toBeCloseTo(150); // (100 + 200) / 2
    expect(nsPerFrame(t, t.steps.get("RX poll and completion")!.samples)).toBeCloseTo(50); // (100 + 0) / 2
    expect(nsPerFrame(t, t.steps.get("RX refill (mbufs from the pool, descriptors)")!.samples)).toBeCloseTo(200 / 6); // (0 + 400/6) / 2
    expect(merged[1]).toBe(cols[1]);
    expect(budgetTable(merged).split("\n")[0]).toBe("| step | tpdk (mean of 2 runs: 10.00 5.00 Mpps) | DPDK (10.00 Mpps, 5 samples) |");
  });

  it("NET_VHOST_RULES: a vhost-user back-end's steps, tpdk's net_vhost by function and file, DPDK's librte_vhost by function start", () => {
    // Names as recorded 2026-12-07 09:18 UTC (net_vhost b32, perf -C 0 with the side-band events): tpdk's l2fwd
    // (V8's perf map), DPDK's testpmd net_vhost (librte_vhost stripped: named by .eh_frame start; its exported
    // burst functions by perf), and virtio-pmd's rxBurst (the same name in another file: not net_vhost's dequeue).
    const V = "/usr/lib/x86_64-linux-gnu/librte_vhost.so.23.0";
    const NV = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_vhost.so.23.0";
    const js = (n: string): [string, string] => [n, "/tmp/perf-5.map"];
    // Stripped code: [unknown] in a mapping (at 0x7f1000000000 for librte_vhost, 0x7f2000000000 for net_vhost, offset 0), named by its FDE.
    const at = (dso: string, off: number): [string, string] => ["[unknown]", `${dso}@${off.toString(16)}`];
    const samples: [string, string][] = [
      js("JS:*rxBurst file:///w/packages/vhost-user/dist/backend/rx-burst.js:46:12"),
      js("JS:*writeOneBuffer file:///w/packages/vhost-user/dist/backend/tx-burst.js:274:19"),
      js("JS:*txBurst file:///w/packages/vhost-user/dist/backend/tx-burst.js:64:12"),
      // The takeSimple runs' loops (methods of their own since sessions 37-38; Node 26's quoted name for one).
      js("JS:*copyRun file:///w/packages/vhost-user/dist/backend/rx-burst.js:156:12"),
      js("JS:*'writeRun file:///w/packages/vhost-user/dist/backend/tx-burst.js:232:13"),
      js("JS:*putRaw file:///w/packages/mbuf/dist/mempool.js:453:11"),
      js("JS:*takeSimple file:///w/packages/vhost-user/dist/backend/guest-queue.js:410:15"),
      js("JS:*copy file:///w/packages/vhost-user/dist/backend/net-frame.js:60:21"),
      js("JS:*allocBulk file:///w/packages/mbuf/dist/mempool.js:203:14"),
      js("JS:*addUsedRun file:///w/packages/vhost/dist/device/virtqueue.js:419:15"),
      js("JS:o*'l2fwdLoop file:///w/apps/l2fwd/dist/lcore-loop.js:28:32"),
      js("JS:*rxBurst file:///w/packages/virtio-pmd/dist/registry.js:77:24"),
      // Mempool's lcore-cache lookup out of line (session 41), and a `cache` of another file: other JS.
      js("JS:*cache file:///w/packages/mbuf/dist/mempool.js:437:3"),
      js("JS:*cache file:///w/packages/eal/dist/lcore-cache.js:12:3"),
      ["Builtins_AtomicsStore", "/usr/bin/node"],
      at(V, 0x8ca40), // virtio_dev_tx_split_compliant
      ["rte_vhost_dequeue_burst", V], // exported: perf names it
      at(V, 0x35600), // do_data_copy_dequeue
      at(V, 0x7dd70), // virtio_dev_rx_split
      at(V, 0x33e00), // reserve_avail_buf_split
      at(NV, 0x5060), // rte_pktmbuf_free
      at(NV, 0x4240), // eth_vhost_rx
      at(V, 0x1010), // none of these
    ];
    const mmaps = [
      `    dpdk-testpmd 5/5 [000] 99.000000: PERF_RECORD_MMAP2 5/5: [0x7f1000000000(0x100000) @ 0 fe:00 1 2]: r-xp ${V}`,
      `    dpdk-testpmd 5/5 [000] 99.000001: PERF_RECORD_MMAP2 5/5: [0x7f2000000000(0x10000) @ 0 fe:00 3 4]: r-xp ${NV}`,
    ];
    const line = ([n, where]: [string, string], i: number): string => {
      const [dso, off] = where.split("@") as [string, string | undefined];
      const ip = off === undefined ? `7f00000${i}00` : (BigInt(dso === V ? "0x7f1000000000" : "0x7f2000000000") + BigInt(`0x${off}`)).toString(16);
      return `            node 5/6 [000] 100.${String(i + 10)}0000: cpu-clock:      ${ip} ${n} (${dso})`;
    };
    const text = [...mmaps, ...samples.map(line)].join("\n");
    const fde = (ranges: [number, number][]): string => ranges.map(([a, b]) => `00000000 0000000000000010 00000000 FDE cie=00000000 pc=${a.toString(16).padStart(16, "0")}..${b.toString(16).padStart(16, "0")}`).join("\n");
    const ranges = new Map([
      [V, parseFdeRanges(fde([[0x1000, 0x1100], [0x33de0, 0x342bb], [0x355e0, 0x36e19], [0x7dd50, 0x845d4], [0x8ca20, 0x94e37]]))],
      [NV, parseFdeRanges(fde([[0x4230, 0x44f1], [0x5050, 0x530b]]))],
    ]);
    const [c] = budget(parsePerfScript(text), 0, [{ label: "b", from: 100, to: 101, mpps: 1 }], NET_VHOST_RULES, ranges);
    const of = (step: string): number => c!.steps.get(step)?.samples ?? 0;
    expect(of("dequeue: burst body, descriptors' touch, mbuf fields, copy inlined")).toBe(4); // rxBurst, copyRun, tx_split, dequeue_burst
    expect(of("dequeue: frame copies (DPDK's batched after the walk)")).toBe(1);
    expect(of("copy out of line (net-frame.js; either burst)")).toBe(1);
    expect(of("descriptors taken and checked (takeSimple, walk; both rings)")).toBe(1);
    expect(of("mbuf alloc")).toBe(1);
    expect(of("app (loop, MAC rewrite)")).toBe(1);
    expect(of("enqueue: header and frame into the front-end's RX buffers, mbuf freed")).toBe(5); // writeOneBuffer, writeRun, putRaw, rx_split, free
    expect(of("enqueue: burst body (fit tests, touches; DPDK: the avail reservation)")).toBe(2); // txBurst, reserve
    expect(of("used entries, publish, ring handshake (both rings)")).toBe(1);
    expect(of("PMD wrappers, statistics (DPDK net_vhost's eth_vhost_rx/tx)")).toBe(1);
    expect(of("Atomics.store builtin")).toBe(1);
    expect(c!.steps.get("DPDK vhost, other")!.names).toEqual([["librte_vhost.so.23.0+0x1000", 1]]);
    expect(of("mempool's lcore-cache lookup (Mempool.cache out of line; alloc and free)")).toBe(1);
    expect(c!.steps.get("other JS")!.names).toEqual([
      ["JS:*rxBurst file:///w/packages/virtio-pmd/dist/registry.js:77:24", 1],
      ["JS:*cache file:///w/packages/eal/dist/lcore-cache.js:12:3", 1],
    ]);
    expect(budgetTable([c!], NET_VHOST_RULES).split("\n")[2]).toBe("| dequeue: burst body, descriptors' touch, mbuf fields, copy inlined | 173.9 |");
  });

  it("lists processes on the CPU and takes a run's window from its last sample", () => {
    const p = processes(script, 0);
    expect(p[0]).toMatchObject({ pid: 12716, samples: 6 });
    expect(p.find((x) => x.pid === 12699)).toMatchObject({ samples: 4, first: 1796584860.717239, last: 1796584860.718239 });
    const w = tailWindow(script, 0, 12716, 0.2, 0.001)!;
    expect(w.from).toBeCloseTo(1796584861.8657, 3);
    expect(w.to).toBeCloseTo(1796584862.06466, 3);
    expect(tailWindow(script, 0, 4242, 5.5, 1)).toBeNull();
  });

  it("cuts a JS name's URL to its file name", () => {
    expect(shortName("JS:*txBurst file:///work/main/packages/virtio-pmd/dist/txq.js:114:12")).toBe("JS:*txBurst txq.js:114:12");
    expect(shortName("Builtins_AtomicsLoad")).toBe("Builtins_AtomicsLoad");
  });
});

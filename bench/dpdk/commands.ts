import { join } from "node:path";
import { dpdkRuntimeRoot } from "@tpdk/testing/owned";

/**
 * The command lines of a vhost-user pair: one DPDK back-end and one of two
 * front-ends, one forwarding core each, on the CPUs tpdk's pipeline uses.
 *
 *   back-end (CPU 1)   testpmd, net_vhost0, flowgen: generates 60-byte frames
 *                      (64 B on the wire) into the port and counts and frees
 *                      what comes back
 *   front-end (CPU 0)  dpdk: testpmd, net_virtio_user0, mac forwarding, port
 *                      topology loop (RX -> TX of the same port)
 *                      tpdk: l2fwd, net_virtio_user0, one lcore, -p 0x1 (the
 *                      port forwards to itself, MACs rewritten)
 *
 * Both front-ends get the same vdev keys: a split ring with DPDK's
 * virtio_user defaults (IN_ORDER, MRG_RXBUF, 256 entries) spelled out.
 */

export type FrontEndKind = "dpdk" | "tpdk";

/** Whose port is compared: the front-end's (net_virtio_user, the vhost-user section) or the back-end's (net_vhost, the net-vhost section). */
export type PairRole = "front-end" | "back-end";

export interface PairOptions {
  /** Packets per burst of the front-end (and of the back-end unless backEndBurst says otherwise). */
  burst: number;
  /** The back-end's burst when it is not `burst` (the vhost-user section keeps one back-end, at 32, for every run). */
  backEndBurst?: number;
  /** The generating front-end's burst in the net-vhost section (generatorCommand), the same in every run. */
  generatorBurst?: number;
  /** Free hugepages for every process of the pair; else --no-huge. */
  hugepages: boolean;
  /** How to start testpmd (an absolute path, or the name for display). */
  testpmd: string;
  /** How to start l2fwd: [node, main.js], or ["tpdk-l2fwd"] for display. */
  l2fwd: readonly string[];
  /** Makes the --file-prefix of each testpmd unique on the machine (e.g. the harness's pid). */
  tag: string;
  /** Packed virtqueues on the front-end (packed_vq=1; the back-end follows what is negotiated); default split. */
  packed?: boolean;
  /** Extra vdev keys for tpdk's front-end only (e.g. "tx_mode=indirect"; vu-shared.js's side syntax), appended after the common ones. */
  tpdkKeys?: string;
}

/** EAL memory per process, MB: testpmd -m and l2fwd -m (doubled without hugepages, as 4 KB pages are used less tightly). */
export const MEM_MB = 128;

export const FRONT_END_KEYS = "queues=1,packed_vq=0,in_order=1,mrg_rxbuf=1";
/** The same keys with packed virtqueues (virtio 1.2 §2.8): both front-ends get them in a packed run. */
export const FRONT_END_KEYS_PACKED = "queues=1,packed_vq=1,in_order=1,mrg_rxbuf=1";

function frontEndKeys(o: PairOptions): string {
  return o.packed ? FRONT_END_KEYS_PACKED : FRONT_END_KEYS;
}

/**
 * The common front-end keys with a tpdk side's own (vu-shared.js DIR:key=value): a side key replaces
 * the common key of the same name (tpdk's devargs refuse a repeated key: e.g. mrg_rxbuf=0 against
 * the common mrg_rxbuf=1), the others are appended.
 */
export function withSideKeys(common: string, side: string): string {
  if (side === "") return common;
  const names = new Set(side.split(",").map((kv) => kv.split("=")[0]));
  return [...common.split(",").filter((kv) => !names.has(kv.split("=")[0])), side].join(",");
}

/** Options both testpmds' forwarding takes. */
function fwdArgs(burst: number): string[] {
  return ["--auto-start", "--nb-cores=1", `--burst=${burst}`, "--stats-period=1", "--total-num-mbufs=8192"];
}

function memArgs(hugepages: boolean): string[] {
  return hugepages ? ["-m", String(MEM_MB)] : ["--no-huge", "-m", String(2 * MEM_MB)];
}

/**
 * testpmd's EAL arguments. `--in-memory` (no runtime files) works only with
 * hugepages: DPDK 22.11 refuses it with --no-huge ("Option --legacy-mem is
 * not compatible with --in-memory"), so without hugepages each instance keeps
 * its runtime directory under its own --file-prefix (removed after the run,
 * see runtimeDir). `--single-file-segments`: with one file per 2 MB page
 * vhost-user refuses the memory table ("Too many memory regions").
 */
function ealArgs(o: PairOptions, mainLcore: number, prefix: string): string[] {
  const mem = [...memArgs(o.hugepages), ...(o.hugepages ? ["--in-memory"] : [])];
  return ["-l", "0,1", "--main-lcore", String(mainLcore), ...mem, "--single-file-segments", "--file-prefix", prefix, "--no-pci", "--log-level", "lib.eal:error"];
}

export function prefixOf(o: PairOptions, side: "vhost" | "virtio"): string {
  return `tpdkbench-${side}-${o.tag}`;
}

/** Where a testpmd without --in-memory keeps its runtime files (DPDK's eal_get_runtime_dir). */
export function runtimeDir(prefix: string): string {
  return join(dpdkRuntimeRoot(), prefix);
}

/** The back-end: main lcore on CPU 0 (statistics only), forwarding lcore 1 on CPU 1. */
export function backEndCommand(o: PairOptions, sock: string): string[] {
  return [
    o.testpmd,
    ...ealArgs(o, 0, prefixOf(o, "vhost")),
    "--vdev",
    `net_vhost0,iface=${sock},queues=1`,
    "--",
    "--forward-mode=flowgen",
    "--txpkts=60",
    ...fwdArgs(o.backEndBurst ?? o.burst),
  ];
}

/**
 * Whether a command's program is a node binary that takes node's flags (the GC probe, --node-flag):
 * its file name starts with "node" (node, nodejs, node-26, or a lab wrapper such as node-inl4000 that
 * execs node with its arguments; vu-shared.js's `node=PATH` side key names one).
 */
export function isNodeProgram(program: string): boolean {
  return /(^|\/)node[^/]*$/.test(program);
}

/** A front-end whose forwarding core is on CPU 0. */
export function frontEndCommand(kind: FrontEndKind, o: PairOptions, sock: string): string[] {
  if (kind === "dpdk") {
    // Main lcore on CPU 1 (statistics only), forwarding lcore 0 on CPU 0.
    return [
      o.testpmd,
      ...ealArgs(o, 1, prefixOf(o, "virtio")),
      "--vdev",
      `net_virtio_user0,path=${sock},${frontEndKeys(o)}`,
      "--",
      "--forward-mode=mac",
      "--port-topology=loop",
      ...fwdArgs(o.burst),
    ];
  }
  // l2fwd's lcore 0 is pinned to CPU 0 and busy-polls; its main thread (bring-up, kicks, signals) is not pinned.
  return [
    ...o.l2fwd,
    "-l",
    "0",
    ...memArgs(o.hugepages),
    "--busy-poll",
    "--vdev",
    `net_virtio_user0,path=${sock},${withSideKeys(frontEndKeys(o), o.tpdkKeys ?? "")}`,
    "--",
    "-p",
    "0x1",
    "-T",
    "0",
    `--burst=${o.burst}`,
  ];
}

/**
 * The net-vhost section's pair, roles swapped: the compared side is the
 * vhost-user back-end (a net_vhost port, listening) and forwards what it
 * receives back to the front-end; the fixed side is DPDK's front-end
 * (testpmd, net_virtio_user, flowgen), which generates 60-byte frames and
 * counts what comes back.
 *
 *   generator (CPU 1)   testpmd, net_virtio_user0, flowgen, --burst=generatorBurst
 *   forwarder (CPU 0)   dpdk: testpmd, net_vhost0, mac forwarding, port topology loop
 *                       tpdk: l2fwd, net_vhost0, one lcore, -p 0x1 (MACs rewritten)
 */
export function generatorCommand(o: PairOptions, sock: string): string[] {
  // Main lcore on CPU 0 (statistics only), forwarding lcore 1 on CPU 1.
  return [
    o.testpmd,
    ...ealArgs(o, 0, prefixOf(o, "virtio")),
    "--vdev",
    `net_virtio_user0,path=${sock},${FRONT_END_KEYS}`,
    "--",
    "--forward-mode=flowgen",
    "--txpkts=60",
    ...fwdArgs(o.generatorBurst ?? o.burst),
  ];
}

/** The vhost-user back-end under test, listening at `sock`, its forwarding core on CPU 0. */
export function forwarderBackEndCommand(kind: FrontEndKind, o: PairOptions, sock: string): string[] {
  const vdev = `net_vhost0,iface=${sock},queues=1`;
  if (kind === "dpdk") {
    // Main lcore on CPU 1 (statistics only), forwarding lcore 0 on CPU 0.
    return [o.testpmd, ...ealArgs(o, 1, prefixOf(o, "vhost")), "--vdev", vdev, "--", "--forward-mode=mac", "--port-topology=loop", ...fwdArgs(o.burst)];
  }
  // l2fwd's lcore 0 pinned to CPU 0, busy-polling; the port's rings are processed inside its rxBurst/txBurst (no device thread).
  return [...o.l2fwd, "-l", "0", ...memArgs(o.hugepages), "--busy-poll", "--vdev", vdev, "--", "-p", "0x1", "-T", "0", `--burst=${o.burst}`];
}

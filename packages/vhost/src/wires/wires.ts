// Over 400 lines for one reason: this is the wires' single entry point (the devargs keys of every wire,
// their validation with messages naming the key, and the factory), so a reader finds all of `wire=` here.
import * as fs from "node:fs";
import * as net from "node:net";
import * as nodePath from "node:path";
import { TpdkError, UsageError, takeString, type Memory } from "@tpdk/eal";
import type { Wire } from "./wire.js";
import { BROADCAST_MAC, FCS_LEN, MAX_FRAME_LEN, MIN_FRAME_LEN } from "./frame.js";
import { ioReason, packFrames, parsePcap, readFileChecked } from "./pcap-file.js";
import { VNI_MAX } from "./vxlan.js";
import { GenWire, type GenOptions } from "./wire-gen.js";
import { LoopWire, type LoopOptions } from "./wire-loop.js";
import { PcapWire, type PcapOptions } from "./wire-pcap.js";
import { SinkWire, type CheckOptions } from "./wire-sink.js";
import { UdpWire, type UdpEndpoint, type UdpOptions } from "./wire-udp.js";
import { WIRE_STATS_BYTES, statsBase } from "./wire-stats.js";

/**
 * The wires a software virtio-net device can be attached to, selected with the
 * vdev's `wire=` key (WIRES.md has the key table and the frame format):
 *   gen   offers generated Ethernet/IPv4/UDP frames;
 *   sink  offers nothing;
 *   pcap  offers a capture's frames and/or writes transmitted frames to a file;
 *   loop  joins two devices of the same device thread like a cable;
 *   udp   carries each frame in a UDP datagram (optionally VXLAN) to a remote.
 * Every wire counts and checks what the driver transmits to it.
 *
 * Two halves: parseWireSpec (main thread, cold, validates everything including
 * files) produces a plain-data WireSpec; createWire (device thread) builds the
 * live Wire from it.
 */

export { type Wire, type WireEventLoop } from "./wire.js";
export {
  WIRE_STATS_BYTES, readWireStats, snapshotWireStats, type WireStats, type WireStatsSnapshot, type WireKind,
} from "./wire-stats.js";
export { type LatencySummary, LatencyHistogram, histWindow } from "./latency-histogram.js";
export { UNPACED_DUE } from "./wire-gen.js";
export { MAX_STREAMS, SEQ_WINDOW, FrameChecker } from "./wire-sink.js";
export {
  buildUdpFrame, writeUdpFrame, checksum, onesSum, fold16, verifyIpv4Udp, tpdkPayloadOffset, defaultSrcMac,
  type UdpFrameOptions, CSUM_OK, CSUM_BAD_IP, CSUM_BAD_UDP, PAYLOAD_MAGIC, PAYLOAD_OFF, PL_MAGIC, PL_STREAM, PL_SEQ,
  PL_TIMESTAMP, PL_HEADER_LEN, MIN_FRAME_LEN, MAX_FRAME_LEN, FCS_LEN, BROADCAST_MAC, DEFAULT_SRC_IP, DEFAULT_DST_IP,
  DEFAULT_UDP_PORT,
} from "./frame.js";
export { LOOP_QUEUE_FRAMES, LOOP_QUEUE_BYTES, connectLoopWires } from "./wire-loop.js";
export { UDP_RX_FRAMES, UDP_RX_BYTES, UDP_TX_FRAMES, UDP_TX_BYTES, UDP_MAX_PAYLOAD, type UdpEndpoint } from "./wire-udp.js";
export { VXLAN_HDR_LEN, VXLAN_FLAG_I, VXLAN_PORT, VNI_MAX, writeVxlanHeader, readVxlanVni } from "./vxlan.js";
export {
  readPcap, parsePcap, packFrames, PcapWriter, type PcapCapture, type PcapRecord, type PackedFrames,
  PCAP_DEFAULT_SNAPLEN, PCAP_MAX_FILE, LINKTYPE_ETHERNET,
} from "./pcap-file.js";

export interface GenWireSpec extends GenOptions {
  kind: "gen";
}
export interface SinkWireSpec extends CheckOptions {
  kind: "sink";
}
export interface PcapWireSpec extends PcapOptions {
  kind: "pcap";
}
export interface LoopWireSpec extends LoopOptions {
  kind: "loop";
}
export interface UdpWireSpec extends UdpOptions {
  kind: "udp";
}
/** Plain data (structured-cloneable): what the main thread hands the device thread. */
export type WireSpec = GenWireSpec | SinkWireSpec | PcapWireSpec | LoopWireSpec | UdpWireSpec;

/** Smallest and largest `size=` (Ethernet frame size including the 4-byte FCS). */
export const SIZE_MIN = MIN_FRAME_LEN + FCS_LEN; // 64
export const SIZE_MAX = MAX_FRAME_LEN + FCS_LEN; // 9018
export const SIZE_LIST_MAX = 64;
export const RATE_MAX = 100e6;
export const FLOWS_MAX = 65536;
export const DEFAULT_SIZE = 64;

const GEN_KEYS = ["size", "count", "rate", "flows", "src_mac", "dst_mac", "timestamp", "seed"] as const;
const PCAP_KEYS = ["rx_pcap", "tx_pcap", "infinite_rx"] as const;
const LOOP_KEYS = ["peer"] as const;
const UDP_KEYS = ["local", "remote", "vxlan"] as const;
const COMMON_KEYS = ["check", "latency"] as const;
const ALL_KEYS = ["wire", ...GEN_KEYS, ...PCAP_KEYS, ...LOOP_KEYS, ...UDP_KEYS, ...COMMON_KEYS];
const KINDS = ["gen", "sink", "pcap", "loop", "udp"] as const;
/** Largest peer= accepted by the parser; validateWirePeers checks it names a port. */
const PEER_MAX = 65535;

/**
 * Parse and validate the wire keys of one vdev (main thread, cold). Consumes
 * every key it owns (deletes it from `args`, and marks it known for
 * assertNoUnknownKeys), so the caller can report what is left as unknown.
 * Files are checked here: rx_pcap is read and parsed (its frames travel in
 * the spec), tx_pcap is opened for writing (created/truncated).
 * Throws UsageError with one line: "<vdev>: <key>=<value> <problem>; <fix>".
 * Without `wire=`, the device gets a sink. A loop's peer= can only be checked
 * against the other vdevs: call validateWirePeers once every vdev is parsed.
 */
export function parseWireSpec(vdevName: string, args: Map<string, string>): WireSpec {
  const raw = new Map<string, string>();
  for (const k of ALL_KEYS) {
    // takeString marks the key as understood for assertNoUnknownKeys' list.
    const v = takeString(args, k, { default: "" });
    if (args.has(k)) raw.set(k, v);
    args.delete(k);
  }
  const p = new KeyParser(vdevName, raw);
  const kind = raw.get("wire") ?? "sink";
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`${vdevName}: wire=${kind} is not a wire; use wire=gen, wire=sink, wire=pcap, wire=loop or wire=udp`);
  }
  const owners = [["gen", GEN_KEYS], ["pcap", PCAP_KEYS], ["loop", LOOP_KEYS], ["udp", UDP_KEYS]] as const;
  for (const [owner, keys] of owners) {
    if (owner === kind) continue;
    for (const k of keys) {
      if (raw.has(k)) {
        throw new UsageError(
          `${vdevName}: ${k}= applies to wire=${owner} only, and this device has wire=${kind}; remove ${k}= or use wire=${owner}`,
        );
      }
    }
  }
  const common: CheckOptions = { check: p.flag("check"), latency: p.flag("latency") };
  switch (kind) {
    case "sink":
      return { kind, ...common };
    case "gen":
      return {
        kind,
        ...common,
        frameLengths: p.sizes(),
        count: p.count(),
        rate: p.rate(),
        flows: p.flows(),
        srcMac: p.mac("src_mac", null),
        dstMac: p.mac("dst_mac", [...BROADCAST_MAC])!,
        timestamp: p.flag("timestamp"),
        seed: p.seed(),
      };
    case "pcap":
      return { kind, ...common, ...p.pcap() };
    case "loop":
      return { kind, ...common, peer: p.peer() };
    case "udp":
      return { kind, ...common, ...p.udp() };
    default:
      throw new UsageError(`${vdevName}: wire=${kind} is not a wire`); // unreachable: checked above
  }
}

/** One vdev's name and wire, as validateWirePeers sees it (packages/vdev's VdevPlan fits). */
export interface NamedWireSpec {
  readonly name: string;
  readonly wire: WireSpec;
}

/**
 * Checks across vdevs, which parseWireSpec (one vdev at a time) cannot make
 * (main thread, cold). `ports[i]` is port i (the i-th --vdev, which is also
 * its device index in the Vhost):
 *  - a loop's peer= names a port whose wire is a loop with peer= back to it
 *    (peer= naming the port itself is a loopback plug);
 *  - no two udp wires bind the same local address and port.
 * Throws UsageError with one line naming the vdev, the key and the fix.
 */
export function validateWirePeers(ports: readonly NamedWireSpec[]): void {
  const bound = new Map<string, string>();
  for (let i = 0; i < ports.length; i++) {
    const { name, wire } = ports[i]!;
    if (wire.kind === "udp") {
      const where = endpointText(wire.local);
      const other = bound.get(where);
      if (other !== undefined) {
        throw new UsageError(`${name}: local=${where} is already the local address of ${other}; give each udp wire its own port`);
      }
      bound.set(where, name);
      continue;
    }
    if (wire.kind !== "loop") continue;
    const p = wire.peer;
    const peer = ports[p];
    if (peer === undefined) {
      throw new UsageError(
        `${name}: peer=${p} names no port; ports are numbered by --vdev order from 0, here 0..${ports.length - 1}: give the port id of the other end`,
      );
    }
    if (peer.wire.kind !== "loop") {
      throw new UsageError(`${name}: peer=${p} is ${peer.name}, whose wire is ${peer.wire.kind}; give ${peer.name} wire=loop,peer=${i}`);
    }
    if (peer.wire.peer !== i) {
      throw new UsageError(
        `${name}: peer=${p} is ${peer.name}, which loops to port ${peer.wire.peer}; a loop joins two ports both ways, give ${peer.name} peer=${i}`,
      );
    }
  }
}

/**
 * Build the live wire on the device thread. Its counters go to the stats
 * block of WIRE_STATS_BYTES at byte offset `statsOffset` in `mem` (8-aligned,
 * reserved by the device), which this zeroes first. `deviceIndex` is the
 * generated stream id (gen) and picks the default source MAC. Cold path;
 * throws TpdkError EINVAL for a bad stats block, UsageError if tx_pcap can no
 * longer be opened.
 */
export function createWire(spec: WireSpec, mem: Memory, statsOffset: number, deviceIndex: number): Wire {
  if (!mem.contains(statsOffset, WIRE_STATS_BYTES) || statsOffset % 8 !== 0 || statsOffset === 0) {
    throw new TpdkError("EINVAL", `wire stats block at ${statsOffset} (+${WIRE_STATS_BYTES}) is not an 8-aligned range of EAL memory`);
  }
  const base = statsBase(statsOffset);
  mem.f64.fill(0, base, base + WIRE_STATS_BYTES / 8);
  switch (spec.kind) {
    case "gen":
      return new GenWire(spec, mem, base, deviceIndex);
    case "sink":
      return new SinkWire(mem.f64, base, spec);
    case "pcap":
      return new PcapWire(spec, mem.f64, base);
    case "loop":
      return new LoopWire(spec, mem, base, statsOffset);
    case "udp":
      return new UdpWire(spec, mem, base, statsOffset);
    default:
      throw new TpdkError("EINVAL", `unknown wire kind ${(spec as { kind: unknown }).kind}`);
  }
}

/** One line describing a spec, for start-up logs: "gen size=64 count=unlimited ...". */
export function describeWireSpec(spec: WireSpec): string {
  const extras = `${spec.check ? " check=1" : ""}${spec.latency ? " latency=1" : ""}`;
  switch (spec.kind) {
    case "sink":
      return `sink${extras}`;
    case "gen":
      return (
        `gen size=${spec.frameLengths.map((l) => l + FCS_LEN).join(":")}` +
        ` count=${spec.count ?? "unlimited"} rate=${spec.rate ?? "unpaced"} flows=${spec.flows}` +
        `${spec.timestamp ? " timestamp=1" : ""}${spec.seed !== null ? ` seed=${spec.seed}` : ""}${extras}`
      );
    case "pcap": {
      const rx = spec.rx
        ? ` rx_pcap=${spec.rx.path} (${spec.rx.offsets.length - 1} frames${spec.rx.infinite ? ", forever" : ""})`
        : "";
      return `pcap${rx}${spec.tx ? ` tx_pcap=${spec.tx.path}` : ""}${extras}`;
    }
    case "loop":
      return `loop peer=${spec.peer}${extras}`;
    case "udp":
      return `udp local=${endpointText(spec.local)} remote=${endpointText(spec.remote)}${spec.vni !== null ? ` vxlan=${spec.vni}` : ""}${extras}`;
  }
}

function endpointText(e: UdpEndpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

// ------------------------------------------------------------------ parsing

const SUFFIX: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };

/** "1000", "2.5M", "10k" -> number, or NaN. */
function scaled(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]!;
}

class KeyParser {
  constructor(
    private readonly vdev: string,
    private readonly raw: Map<string, string>,
  ) {}

  private fail(msg: string): UsageError {
    return new UsageError(`${this.vdev}: ${msg}`);
  }

  flag(key: string): boolean {
    const v = this.raw.get(key);
    if (v === undefined || v === "0") return false;
    if (v === "1") return true;
    throw this.fail(`${key}=${v} must be 0 or 1`);
  }

  sizes(): number[] {
    const v = this.raw.get("size");
    if (v === undefined) return [DEFAULT_SIZE - FCS_LEN];
    const hint = `use ${SIZE_MIN}..${SIZE_MAX} (Ethernet frame size including the 4-byte FCS) or a list such as size=64:512:1518`;
    const items = v.split(":");
    if (items.length > SIZE_LIST_MAX) throw this.fail(`size=${v} has ${items.length} sizes; at most ${SIZE_LIST_MAX}`);
    return items.map((item) => {
      if (!/^\d+$/.test(item)) throw this.fail(`size=${v} is not a frame size; ${hint}`);
      const n = Number(item);
      if (n < SIZE_MIN || n > SIZE_MAX) throw this.fail(`size=${v}: ${item} is out of range; ${hint}`);
      return n - FCS_LEN;
    });
  }

  count(): number | null {
    const v = this.raw.get("count");
    if (v === undefined) return null;
    const n = scaled(v);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw this.fail(`count=${v} is not a frame count; use a whole number >= 1 such as count=1000 or count=10M, or leave it out for unlimited`);
    }
    return n;
  }

  rate(): number | null {
    const v = this.raw.get("rate");
    if (v === undefined) return null;
    const n = scaled(v);
    if (!(n > 0) || n > RATE_MAX) {
      throw this.fail(`rate=${v} is not a packet rate; use packets per second up to 100M, e.g. rate=1000 or rate=2.5M, or leave it out for unpaced`);
    }
    return n;
  }

  flows(): number {
    const v = this.raw.get("flows");
    if (v === undefined) return 1;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= 1 && n <= FLOWS_MAX)) {
      throw this.fail(`flows=${v} is not a flow count; use 1..${FLOWS_MAX} (UDP source ports 9, 10, ...)`);
    }
    return n;
  }

  seed(): number | null {
    const v = this.raw.get("seed");
    if (v === undefined) return null;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= 0 && n <= 0xffffffff)) throw this.fail(`seed=${v} is not a seed; use a whole number 0..4294967295`);
    return n;
  }

  mac(key: string, dflt: number[] | null): number[] | null {
    const v = this.raw.get(key);
    if (v === undefined) return dflt;
    if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(v)) {
      throw this.fail(`${key}=${v} is not a MAC address; use six hex bytes such as ${key}=02:00:00:00:01:00`);
    }
    const bytes = v.split(/[:-]/).map((h) => parseInt(h, 16));
    if (key === "src_mac" && (bytes[0]! & 1) !== 0) {
      throw this.fail(`src_mac=${v} is a multicast address; a source MAC must be unicast (even first byte), e.g. 02:00:00:00:01:00`);
    }
    return bytes;
  }

  peer(): number {
    const v = this.raw.get("peer");
    if (v === undefined) {
      throw this.fail(`wire=loop needs peer=N, the port id of the other end (ports are numbered by --vdev order from 0), whose wire is loop with peer= this port`);
    }
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= 0 && n <= PEER_MAX)) throw this.fail(`peer=${v} is not a port id; use the other end's port number, e.g. peer=1`);
    return n;
  }

  udp(): Omit<UdpOptions, keyof CheckOptions> {
    const local = this.endpoint("local");
    const remote = this.endpoint("remote");
    if (local.family !== remote.family) {
      throw this.fail(`local=${this.raw.get("local")} and remote=${this.raw.get("remote")} are of different IP versions; use IPv4 for both or IPv6 for both`);
    }
    let vni: number | null = null;
    const v = this.raw.get("vxlan");
    if (v !== undefined) {
      vni = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!(vni >= 0 && vni <= VNI_MAX)) throw this.fail(`vxlan=${v} is not a VXLAN network identifier; use 0..${VNI_MAX}, e.g. vxlan=42`);
    }
    return {
      vdev: this.vdev,
      family: local.family,
      local: { address: local.address, port: local.port },
      remote: { address: remote.address, port: remote.port },
      vni,
    };
  }

  private endpoint(key: "local" | "remote"): UdpEndpoint & { family: 4 | 6 } {
    const v = this.raw.get(key);
    const example = key === "local" ? "10.99.1.1:4789" : "10.99.1.2:4789";
    if (v === undefined) {
      throw this.fail(`wire=udp needs ${key}=ADDR:PORT, the ${key === "local" ? "address to bind" : "address to send to"}, e.g. ${key}=${example}`);
    }
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
    const address = m ? (m[1] ?? m[2]!) : "";
    const family = net.isIPv4(address) ? 4 : net.isIPv6(address) && m?.[1] !== undefined ? 6 : 0;
    if (!m || family === 0) {
      throw this.fail(`${key}=${v} is not ADDR:PORT; use an IP address and a port, e.g. ${key}=${example} ([ADDR]:PORT for IPv6); names are not looked up`);
    }
    const port = Number(m[3]);
    if (!(port >= 1 && port <= 65535)) throw this.fail(`${key}=${v}: port ${m[3]} is out of range; use 1..65535 (VXLAN's is 4789)`);
    return { address, port, family };
  }

  pcap(): Omit<PcapOptions, keyof CheckOptions> {
    const rxPath = this.raw.get("rx_pcap");
    const txPath = this.raw.get("tx_pcap");
    const infinite = this.flag("infinite_rx");
    if (rxPath === undefined && txPath === undefined) {
      throw this.fail(`wire=pcap needs rx_pcap=FILE (frames to receive), tx_pcap=FILE (where transmitted frames go) or both`);
    }
    if (infinite && rxPath === undefined) throw this.fail(`infinite_rx=1 needs rx_pcap=FILE to replay`);
    if (rxPath !== undefined && txPath !== undefined && sameFile(rxPath, txPath)) {
      throw this.fail(`rx_pcap and tx_pcap both name ${txPath}; writing would destroy the input, give tx_pcap another file`);
    }
    let rx: PcapOptions["rx"] = null;
    if (rxPath !== undefined) {
      const fail = (reason: string) =>
        this.fail(`rx_pcap=${rxPath} ${reason}${rxHint(reason)}`);
      const bytes = readFileChecked(rxPath, fail);
      const records = parsePcap(bytes, rxPath, fail).records;
      if (records.length === 0) throw fail("holds no frames; capture some first");
      rx = { path: rxPath, infinite, ...packFrames(records.map((r) => r.data)) };
    }
    let tx: PcapOptions["tx"] = null;
    if (txPath !== undefined) {
      // Prove it writable now, before anything starts (this creates or truncates it).
      try {
        fs.closeSync(fs.openSync(txPath, "w"));
      } catch (e) {
        throw this.fail(`tx_pcap=${txPath} ${ioReason(e, "cannot be written")}; choose a writable file path`);
      }
      tx = { path: txPath };
    }
    return { rx, tx };
  }
}

/** The fix to append to an rx_pcap problem (the reason itself names what is accepted otherwise). */
function rxHint(reason: string): string {
  if (/^(cannot be read|is a directory)/.test(reason)) return "; give the path of a classic pcap file";
  if (reason.startsWith("is truncated")) return "; the capture was cut short (still being written?), use a complete one";
  return "";
}

function sameFile(a: string, b: string): boolean {
  if (nodePath.resolve(a) === nodePath.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false; // b does not exist yet: cannot be a itself
  }
}
export { readyAt, consumeAt } from "./at-time.js";

/**
 * The `--vdev` kinds this process understands, for usage texts (`--help`):
 * one place every kind registers its line into, so a new kind (a vhost-user
 * port, ...) shows up in every program's help by registering here, next to
 * where it is parsed. Cold; plain strings.
 */
export interface VdevKindHelp {
  /** The device name's prefix (the driver), e.g. `virtio` for `virtio0`. */
  readonly prefix: string;
  /** What the --vdev string looks like, e.g. `virtioN,wire=KIND[,key=value...]`. */
  readonly syntax: string;
  /** One line or more saying what it is and where its keys are documented. */
  readonly summary: string;
  /** Optional sub-choices (wire kinds), one line each: [name, meaning]. */
  readonly choices?: ReadonlyArray<readonly [string, string]>;
}

const kinds: VdevKindHelp[] = [
  {
    prefix: "virtio",
    syntax: "virtioN,wire=KIND[,key=value...]",
    summary:
      "a virtio-net port on tpdk's software device (device thread); driver keys queue_size=, tx_mode=auto|push|chained|indirect,\n" +
      "mrg_rxbuf=, in_order=, mac=, ... (packages/virtio-pmd/README.md); wire keys in packages/vhost/WIRES.md; every wire\n" +
      "also takes check=1 (verify the checksums of what the port sends) and latency=1 (record send-to-receive latency). Wires:",
    choices: [
      ["gen", "generates UDP frames: rate=PPS (unpaced without), count=N, size=64..9018 with FCS (a list: 64:512:1518), flows=N, seed=S"],
      ["sink", "takes what the port sends (the default wire)"],
      ["pcap", "rx_pcap=FILE replayed once (infinite_rx=1: forever), tx_pcap=FILE written"],
      ["loop", "peer=N: a cable to port N's loop wire"],
      ["udp", "frames in UDP datagrams: local=ADDR:PORT, remote=ADDR:PORT, vxlan=VNI"],
    ],
  },
  {
    prefix: "net_vhost",
    syntax: "net_vhostN,iface=SOCKET[,queues=N][,client=1][,sealed=1]",
    summary:
      "vhost-user back-end: serves a front-end in another process (DPDK's virtio_user, QEMU); packages/vhost-user/README.md",
  },
  {
    prefix: "net_virtio_user",
    syntax: "net_virtio_userN,path=SOCKET[,queues=N][,queue_size=N][,server=1][,mac=MAC]",
    summary:
      "virtio-user: tpdk's driver as a vhost-user front-end to a back-end in another process (DPDK's net_virtio_user;\n" +
      "e.g. testpmd's net_vhost); needs the native addon; packages/vhost-user/README.md",
  },
];

/** The kinds --vdev takes (live: kinds registered later appear), for messages and --help. */
export const VDEV_KINDS: readonly VdevKindHelp[] = kinds;

/** Add a --vdev kind to every usage text (call where the kind is parsed, at module top level). */
export function registerVdevKindHelp(k: VdevKindHelp): void {
  if (!kinds.some((x) => x.prefix === k.prefix)) kinds.push(k);
}

/** The kinds, for a usage text: `--vdev` forms, each with its summary and choices, indented. */
export function vdevKindsUsage(indent = "  "): string {
  const lines: string[] = [];
  for (const k of kinds) {
    lines.push(`${indent}--vdev ${k.syntax}`);
    for (const l of k.summary.split("\n")) lines.push(`${indent}    ${l}`);
    for (const [name, what] of k.choices ?? []) lines.push(`${indent}    ${k.syntax.startsWith("virtio") ? `wire=${name}` : name}`.padEnd(indent.length + 16) + ` ${what}`);
  }
  return lines.join("\n");
}

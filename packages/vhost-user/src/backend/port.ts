import { type Memory, TpdkError } from "@tpdk/eal";
import type { Mempool } from "@tpdk/mbuf";
import type { NativeBinding } from "@tpdk/native";
import { type EthStats, type LinkStatus, type PortInfo, type XStat, formatMac } from "@tpdk/virtio-pmd";
import { E_ADDR, E_AVAIL_IDX, E_FULL, E_HEAD, E_INDIRECT, E_LENGTH, E_NEXT, E_ORDER, ERROR_KINDS, SETUP_FAILED } from "./guest-queue.js";
import type { NetVhostOptions } from "./options-backend.js";
import { PortZone } from "./port-zone.js";
import { RingControl } from "./ring-control.js";
import { type BackendLinkListener, VhostUserBackend } from "./server.js";

/**
 * A net_vhost port (DPDK's net_vhost: the vhost library as an ethdev), main
 * thread side: the ethdev calls l2fwd makes (configure, queue setup, start,
 * link, statistics, stop) over a VhostUserBackend whose rings the lcores
 * process through rxBurst/txBurst (lcore.ts). Holds no mbufs: frames are
 * copied in and out of the front-end's memory within a burst, so a stop or a
 * disconnect leaves nothing to give back.
 */
export class NetVhostPort {
  readonly kind = "net_vhost";
  private readonly zone: PortZone;
  private readonly control: RingControl;
  private be: VhostUserBackend;
  private readonly linkListeners: BackendLinkListener[] = [];
  private readonly mac: Uint8Array;
  private nbRx = 0;
  private nbTx = 0;
  private state: "probed" | "configured" | "started" | "stopped" | "closed" = "probed";

  constructor(mem: Memory, private readonly native: NativeBinding, readonly portId: number, readonly name: string, readonly opts: NetVhostOptions) {
    this.zone = PortZone.create(mem, portId, opts.queues);
    this.control = new RingControl(Array.from({ length: 2 * opts.queues }, (_, r) => this.zone.ringWords(r)), native);
    this.be = this.newBackend(native);
    this.mac = Uint8Array.of(0x02, 0x70, 0x64, 0x6b, 0x00, portId & 0xff);
  }

  private newBackend(native: NativeBinding): VhostUserBackend {
    const o = this.opts;
    const b = new VhostUserBackend(native, { name: this.name, path: o.iface, client: o.client, queuePairs: o.queues, requireSealed: o.sealed }, this.control);
    for (const l of this.linkListeners) b.onLinkChange(l);
    return b;
  }

  /** The vhost-user server (or client) of this port: its counters, link, current session. */
  get backend(): VhostUserBackend {
    return this.be;
  }

  get maxQueuePairs(): number {
    return this.opts.queues;
  }

  configure(nbRxQueues: number, nbTxQueues: number): void {
    const max = this.opts.queues;
    if (nbRxQueues < 1 || nbTxQueues < 1 || nbRxQueues > max || nbTxQueues > max) {
      throw new TpdkError("EINVAL", `${this.name}: configure(${nbRxQueues}, ${nbTxQueues}): the port has queues=${max} pair(s)`);
    }
    this.nbRx = nbRxQueues;
    this.nbTx = nbTxQueues;
    this.state = "configured";
  }

  rxQueueSetup(q: number, conf: { pool: Mempool }): void {
    if (q >= this.nbRx) throw new TpdkError("EINVAL", `${this.name}: RX queue ${q} not configured`);
    this.zone.setPool(q, conf.pool.id);
  }

  txQueueSetup(q: number, _conf: object = {}): void {
    if (q >= this.nbTx) throw new TpdkError("EINVAL", `${this.name}: TX queue ${q} not configured`);
  }

  /** Listen (or connect) at iface. The link comes up when the front-end has enabled its first pair of rings. */
  start(): PortInfo {
    if (this.state !== "configured" && this.state !== "stopped") throw new TpdkError("ESTATE", `${this.name}: start() before configure()`);
    // A stopped port serves again on a fresh socket (the old server was closed).
    if (this.state === "stopped") this.be = this.newBackend(this.native);
    this.be.start();
    this.state = "started";
    return this.info();
  }

  /** Stop serving: the front-end is disconnected (its rings quiesced), the socket closed. */
  stop(): void {
    if (this.state !== "started") return;
    this.be.close();
    this.control.clearClaims();
    this.state = "stopped";
  }

  close(): void {
    if (this.state === "closed") return;
    this.stop();
    // Every ring stopped (the connection closed): no lcore writes the fault eventfd any more.
    this.control.close();
    this.state = "closed";
  }

  onLinkChange(l: BackendLinkListener): void {
    this.linkListeners.push(l);
    this.be.onLinkChange(l);
  }

  linkStatus(): LinkStatus {
    return { up: this.backend.link, speed: 10_000, duplex: "full" };
  }

  macAddr(): Uint8Array {
    return this.mac;
  }

  promiscuousEnable(): void {
    // A vhost port delivers every frame the front-end sends: always promiscuous.
  }

  /** No device thread to watch: the control path is on this thread. */
  checkDevice(_now?: number): boolean {
    return true;
  }

  get needsReset(): boolean {
    return false;
  }

  get deviceFault(): string | null {
    return null;
  }

  markDeviceDead(_why: string): void {
    // Nothing held: the rings are the front-end's and hold no mbufs of ours.
  }

  info(): PortInfo {
    return {
      portId: this.portId, name: this.name, mac: this.mac, macString: formatMac(this.mac), linkUp: this.backend.link, mtu: 1500,
      features: [], hdrSize: 12, rxQueueSizes: [], txQueueSizes: [], txMode: "auto",
    };
  }

  stats(): EthStats {
    let ipackets = 0, ibytes = 0, opackets = 0, obytes = 0, ierrors = 0, oerrors = 0, nombuf = 0;
    for (let q = 0; q < this.opts.queues; q++) {
      const rx = this.zone.burstStats(2 * q + 1);
      const tx = this.zone.burstStats(2 * q);
      ipackets += rx[0]!;
      ibytes += rx[1]!;
      ierrors += rx[2]!;
      nombuf += this.zone.counts(2 * q + 1)[E_FULL]!;
      opackets += tx[0]!;
      obytes += tx[1]!;
      oerrors += tx[3]!;
    }
    return { ipackets, opackets, ibytes, obytes, imissed: 0, ierrors, oerrors, rx_nombuf: nombuf };
  }

  /** Per queue (DPDK's names where they exist), the descriptor errors by kind, and the connection's counters. */
  xstats(): XStat[] {
    const out: XStat[] = [];
    const kinds: [string, number][] = [["bad_head", E_HEAD], ["bad_next", E_NEXT], ["chain_too_long", E_LENGTH], ["addr_outside_memory", E_ADDR],
      ["bad_indirect", E_INDIRECT], ["desc_order", E_ORDER], ["avail_idx_runaway", E_AVAIL_IDX], ["no_mbuf_or_too_long", E_FULL]];
    for (let q = 0; q < this.opts.queues; q++) {
      const rx = this.zone.burstStats(2 * q + 1);
      const tx = this.zone.burstStats(2 * q);
      out.push({ name: `rx_q${q}_good_packets`, value: rx[0]! }, { name: `rx_q${q}_good_bytes`, value: rx[1]! }, { name: `rx_q${q}_dropped`, value: rx[2]! });
      out.push({ name: `tx_q${q}_good_packets`, value: tx[0]! }, { name: `tx_q${q}_good_bytes`, value: tx[1]! }, { name: `tx_q${q}_ring_full`, value: tx[2]! });
      for (const [side, ring] of [["rx", 2 * q + 1], ["tx", 2 * q]] as const) {
        const c = this.zone.counts(ring);
        for (const [k, i] of kinds) out.push({ name: `${side}_q${q}_${k}`, value: c[i]! });
        out.push({ name: `${side}_q${q}_calls`, value: c[ERROR_KINDS]! }, { name: `${side}_q${q}_ring_setup_errors`, value: c[SETUP_FAILED]! });
      }
    }
    const b = this.backend.counters;
    out.push({ name: "vhost_connections", value: b.connections }, { name: "vhost_disconnects", value: b.disconnects },
      { name: "vhost_protocol_errors", value: b.protocolErrors }, { name: "vhost_unsealed_tables", value: b.unsealedTables },
      { name: "vhost_refused_connections", value: b.refusedConnections }, { name: "vhost_quiesce_stuck", value: this.control.stuck },
      { name: "vhost_packed_connections", value: b.packedConnections }, { name: "vhost_ring_faults", value: b.ringFaults },
      { name: "vhost_guest_memory_faults", value: b.memoryFaults });
    return out;
  }
}

import { type Memory, TpdkError } from "@tpdk/eal";
import type { Features } from "@tpdk/virtio";
import {
  PMD_MAX_PORTS,
  PORT_ENTRY,
  PORT_FREE,
  PORT_TABLE_ZONE,
  P_FEAT_HI,
  P_FEAT_LO,
  P_HDR_SIZE,
  P_MAC,
  P_MAX_FRAME,
  P_NB_RXQ,
  P_NB_TXQ,
  P_QUEUE_SEQ,
  P_RXQ_ZONES,
  P_STATE,
  P_TRANSPORT,
  P_TXQ_ZONES,
  P_TX_MODE,
  portEntry,
} from "./port-layout.js";

/** The port table zone (reserved by the first probe in this memory). */
export function portTable(mem: Memory): number {
  const z = mem.lookup(PORT_TABLE_ZONE);
  if (z) return z.offset;
  try {
    return mem.reserve(PORT_TABLE_ZONE, PMD_MAX_PORTS * PORT_ENTRY, 64).offset;
  } catch (e) {
    if (e instanceof TpdkError && e.code === "EEXIST") return mem.zone(PORT_TABLE_ZONE).offset;
    throw e;
  }
}

/** What probe publishes for the lcores: the negotiated results they burst with. */
export interface ProbedPort {
  features: Features;
  hdrSize: number;
  /** TXM_* */
  txMode: number;
  transportOffset: number;
  mac: Uint8Array;
  /** Longest frame TX sends (MTU + Ethernet header + one VLAN tag). */
  maxFrame: number;
}

/**
 * One port's entry in the shared port table, as the main thread sees it (control
 * path, cold). The only writer of the entry; its offsets are port-layout.ts's.
 * Lcores read the same words by offset (queue-base.ts: state and queue zones).
 */
export class PortTableEntry {
  readonly #u32: Uint32Array;
  readonly #u8: Uint8Array;
  /** Byte offset of the entry. */
  readonly #at: number;

  constructor(mem: Memory, portId: number) {
    this.#u32 = mem.u32;
    this.#u8 = mem.u8;
    this.#at = portEntry(portTable(mem), portId);
  }

  /** Nobody holds the port id (never probed, or closed). */
  get free(): boolean {
    return this.#u32[(this.#at + P_STATE) >>> 2] === PORT_FREE;
  }

  /** A fresh entry after probe; the queue-object token sequence goes on (no token is ever reused). */
  publishProbe(p: ProbedPort): void {
    const u32 = this.#u32;
    const e = this.#at;
    const seq = u32[(e + P_QUEUE_SEQ) >>> 2]!;
    u32.fill(0, e >>> 2, (e + PORT_ENTRY) >>> 2);
    u32[(e + P_QUEUE_SEQ) >>> 2] = seq;
    u32[(e + P_FEAT_LO) >>> 2] = p.features.lo;
    u32[(e + P_FEAT_HI) >>> 2] = p.features.hi;
    u32[(e + P_HDR_SIZE) >>> 2] = p.hdrSize;
    u32[(e + P_TX_MODE) >>> 2] = p.txMode;
    u32[(e + P_TRANSPORT) >>> 2] = p.transportOffset;
    this.#u8.set(p.mac, e + P_MAC);
    u32[(e + P_MAX_FRAME) >>> 2] = p.maxFrame;
  }

  /** PORT_* state; lcores read it to tell a closed port. */
  publishState(code: number): void {
    // Pairs with the queue objects' Atomics.load of P_STATE when they bind (queue-base.ts).
    Atomics.store(this.#u32, (this.#at + P_STATE) >>> 2, code);
  }

  publishQueueCounts(nbRx: number, nbTx: number): void {
    this.#u32[(this.#at + P_NB_RXQ) >>> 2] = nbRx;
    this.#u32[(this.#at + P_NB_TXQ) >>> 2] = nbTx;
  }

  /** Zone offset of queue q (0 = none), for lcores that bind by (port, queue). */
  queueZone(tx: boolean, q: number): number {
    return this.#u32[(this.#at + (tx ? P_TXQ_ZONES : P_RXQ_ZONES) + 4 * q) >>> 2]!;
  }

  publishQueueZone(tx: boolean, q: number, zone: number): void {
    this.#u32[(this.#at + (tx ? P_TXQ_ZONES : P_RXQ_ZONES) + 4 * q) >>> 2] = zone;
  }
}

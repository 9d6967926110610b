import { TpdkError } from "@tpdk/eal";
import { PORT_CONFIGURED, PORT_FREE, PORT_PROBED, PORT_STARTED, PORT_STOPPED } from "./port-layout.js";
import type { PortTableEntry } from "./port-table.js";

/**
 * The ethdev state of a port (DPDK's rte_eth_dev state and dev_started):
 *
 *   closed ─probe─▶ probed ─configure─▶ configured ─start─▶ [starting] ─▶ started ─stop─▶ stopped
 *                                           ▲ configure, queue setup ◀────────────────────┘  │
 *                                           └──────────── start fails: back where it was ◀───┘
 *
 * `starting` lasts from DRIVER_OK to the end of start(): control commands may
 * be sent then (VQ_PAIRS_SET, MAC_ADDR_SET) while lcores still see the state
 * start() began from. A failed start goes back to that state.
 */
export type PortState =
  | { readonly kind: "closed" }
  | { readonly kind: "probed" }
  | { readonly kind: "configured" }
  | { readonly kind: "starting"; readonly from: "configured" | "stopped" }
  | { readonly kind: "started" }
  | { readonly kind: "stopped" };

export type PortStateKind = PortState["kind"];

/** What lcores see in the port table (PORT_*): `starting` is not published. */
const CODES: Record<Exclude<PortStateKind, "starting">, number> = {
  closed: PORT_FREE,
  probed: PORT_PROBED,
  configured: PORT_CONFIGURED,
  started: PORT_STARTED,
  stopped: PORT_STOPPED,
};

const CLOSED: PortState = { kind: "closed" };
const PROBED: PortState = { kind: "probed" };
const CONFIGURED: PortState = { kind: "configured" };
const STARTED: PortState = { kind: "started" };
const STOPPED: PortState = { kind: "stopped" };
const STATES = { closed: CLOSED, probed: PROBED, configured: CONFIGURED, started: STARTED, stopped: STOPPED } as const;

/** The port's state machine (main thread): the one writer of the state, published to the port table. */
export class PortLifecycle {
  #state: PortState = CLOSED;
  readonly #name: string;
  readonly #entry: PortTableEntry;

  constructor(name: string, entry: PortTableEntry) {
    this.#name = name;
    this.#entry = entry;
  }

  get state(): PortState {
    return this.#state;
  }

  get started(): boolean {
    return this.#state.kind === "started";
  }

  /** Control commands may go out: the port is started, or start() is past DRIVER_OK. */
  get commandsAllowed(): boolean {
    return this.#state.kind === "started" || this.#state.kind === "starting";
  }

  /** Throw ESTATE naming `op` unless the port is in one of `ok`. */
  require(op: string, ...ok: PortStateKind[]): void {
    const k = this.#state.kind;
    if (!ok.includes(k)) {
      throw new TpdkError("ESTATE", `${this.#name}: ${op}() not allowed while the port is ${k}`);
    }
  }

  /** Enter a published state. */
  to(kind: Exclude<PortStateKind, "starting">): void {
    this.#state = STATES[kind];
    this.#entry.publishState(CODES[kind]);
  }

  /** DRIVER_OK is set: commands may be sent; the table still says what start() began from. */
  beginStarting(): void {
    const k = this.#state.kind;
    if (k === "configured" || k === "stopped") this.#state = { kind: "starting", from: k };
  }

  /** start() failed: back to the state it began from (unchanged if it failed before DRIVER_OK). */
  abortStarting(): void {
    if (this.#state.kind === "starting") this.#state = STATES[this.#state.from];
  }
}

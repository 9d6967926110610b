import { TpdkError, UsageError, takeBool, takeInt, takeMac, takeString } from "@tpdk/eal";
import { isValidPackedQueueSize, isValidQueueSize } from "@tpdk/virtio";
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from "./liveness.js";

export type TxMode = "auto" | "chained" | "push" | "indirect";
export const TX_MODES: readonly TxMode[] = ["auto", "chained", "push", "indirect"];

/** Per-port driver options (the driver's devargs keys, parsed). */
export interface VirtioPmdOptions {
  /** `mac=`: the port's MAC (VIRTIO_NET_CTRL_MAC_ADDR_SET when negotiated, else the driver's own; never written to the config). Default: the device's, else 02:70:64:6b:00:<port id>. */
  mac?: Uint8Array | undefined;
  /** `queue_size=`: descriptors per queue (power of two); capped at the device's maximum. Default 1024. */
  queueSize?: number;
  /** `mrg_rxbuf=`, `in_order=`, `event_idx=`, `indirect=`: undefined = take it if the device offers it; false = never; true = required. */
  mrgRxbuf?: boolean | undefined;
  inOrder?: boolean | undefined;
  eventIdx?: boolean | undefined;
  indirect?: boolean | undefined;
  /** `mq=`: multiqueue (VIRTIO_NET_F_MQ, with the control queue it needs). undefined = if offered; false = one pair; true = required. */
  mq?: boolean | undefined;
  /**
   * `packed_vq=`: packed virtqueues (VIRTIO_F_RING_PACKED, virtio 1.2 §2.8; DPDK's key). true =
   * required (the device must offer it; a built-in device is asked to); otherwise split rings.
   * The control queue is then packed too (packed-ctrl-queue.ts), so MQ and CTRL_MAC_ADDR work as with split rings.
   */
  packedVq?: boolean | undefined;
  /** `tx_mode=`: auto (DPDK's per-packet choice), or force chained / push / indirect. */
  txMode?: TxMode;
  /** Register-access (trap) timeout in ms; a device that does not answer is dead. */
  trapTimeoutMs?: number;
  /** `heartbeat_timeout_ms=`: VirtioPort.checkDevice(): a heartbeat silent this long (ms) means the device is dead. Default 2000. */
  heartbeatTimeoutMs?: number;
}

/** Longest heartbeat_timeout_ms= (1 h). */
export const MAX_HEARTBEAT_TIMEOUT_MS = 3_600_000;

export const DEFAULT_QUEUE_SIZE = 1024;
export const MIN_QUEUE_SIZE = 8;
export const MAX_QUEUE_SIZE = 32768;

/** The keys parseDriverArgs consumes. */
export const DRIVER_KEYS = ["mac", "queue_size", "mrg_rxbuf", "in_order", "event_idx", "indirect", "mq", "tx_mode", "packed_vq", "heartbeat_timeout_ms"] as const;

function takeTri(args: Map<string, string>, key: string): boolean | undefined {
  if (!args.has(key)) {
    takeBool(args, key, { default: false }); // marks the key as known
    return undefined;
  }
  return takeBool(args, key);
}

/**
 * Read the driver's keys from a vdev's devargs map (the wire's keys stay for
 * the device). Marks them as known so assertNoUnknownKeys() accepts them.
 * Throws UsageError naming the key and the fix.
 */
export function parseDriverArgs(vdevName: string, args: Map<string, string>): VirtioPmdOptions {
  const opts: VirtioPmdOptions = {};
  if (args.has("mac")) {
    const mac = takeMac(args, "mac");
    if ((mac[0]! & 1) !== 0) {
      throw new UsageError(`${vdevName}: mac=${args.get("mac")} is a multicast address; use a unicast one, e.g. mac=02:00:00:00:00:01`);
    }
    opts.mac = mac;
  } else {
    takeString(args, "mac", { default: "" });
  }
  const packedVq = args.has("packed_vq") ? takeBool(args, "packed_vq") : (takeBool(args, "packed_vq", { default: false }), undefined);
  const qs = takeInt(args, "queue_size", { min: MIN_QUEUE_SIZE, max: MAX_QUEUE_SIZE, default: DEFAULT_QUEUE_SIZE });
  if (!(packedVq === true ? isValidPackedQueueSize(qs) : isValidQueueSize(qs))) {
    throw new UsageError(
      `${vdevName}: queue_size=${qs} is not a power of two; use e.g. queue_size=1024 (${MIN_QUEUE_SIZE}..${MAX_QUEUE_SIZE}), or packed_vq=1 (packed rings take any size)`,
    );
  }
  opts.packedVq = packedVq;
  opts.queueSize = qs;
  opts.mrgRxbuf = takeTri(args, "mrg_rxbuf");
  opts.inOrder = takeTri(args, "in_order");
  opts.eventIdx = takeTri(args, "event_idx");
  opts.indirect = takeTri(args, "indirect");
  opts.mq = takeTri(args, "mq");
  opts.txMode = takeString(args, "tx_mode", { default: "auto", choices: TX_MODES }) as TxMode;
  // A loaded machine may leave the device thread unscheduled for longer than the default (see liveness.ts).
  opts.heartbeatTimeoutMs = takeInt(args, "heartbeat_timeout_ms", { min: 10, max: MAX_HEARTBEAT_TIMEOUT_MS, default: DEFAULT_HEARTBEAT_TIMEOUT_MS });
  if (opts.txMode === "indirect" && opts.indirect === false) {
    throw new UsageError(`${vdevName}: tx_mode=indirect needs indirect descriptors but indirect=0; drop one of them`);
  }
  return opts;
}

/** Validate programmatic options (the same rules as parseDriverArgs); returns a filled copy. */
export function resolveOptions(name: string, o: VirtioPmdOptions = {}): Required<Omit<VirtioPmdOptions, "mac" | "mrgRxbuf" | "inOrder" | "eventIdx" | "indirect" | "mq" | "packedVq">> &
  Pick<VirtioPmdOptions, "mac" | "mrgRxbuf" | "inOrder" | "eventIdx" | "indirect" | "mq" | "packedVq"> {
  const queueSize = o.queueSize ?? DEFAULT_QUEUE_SIZE;
  if (o.packedVq === true ? !isValidPackedQueueSize(queueSize) || queueSize < MIN_QUEUE_SIZE : !isValidQueueSize(queueSize) || queueSize < MIN_QUEUE_SIZE) {
    throw new TpdkError(
      "EINVAL",
      `${name}: queue size ${queueSize} is not ${o.packedVq === true ? "" : "a power of two "}in ${MIN_QUEUE_SIZE}..${MAX_QUEUE_SIZE}`,
    );
  }
  const txMode = o.txMode ?? "auto";
  if (!TX_MODES.includes(txMode)) throw new TpdkError("EINVAL", `${name}: tx mode "${txMode}" is not one of ${TX_MODES.join(", ")}`);
  if (o.heartbeatTimeoutMs !== undefined && !(o.heartbeatTimeoutMs > 0)) {
    throw new TpdkError("EINVAL", `${name}: heartbeat timeout ${o.heartbeatTimeoutMs} ms must be positive`);
  }
  if (o.mac !== undefined && (o.mac.length !== 6 || (o.mac[0]! & 1) !== 0)) {
    throw new TpdkError("EINVAL", `${name}: MAC must be 6 bytes, unicast`);
  }
  return {
    mac: o.mac,
    queueSize,
    mrgRxbuf: o.mrgRxbuf,
    inOrder: o.inOrder,
    eventIdx: o.eventIdx,
    indirect: o.indirect,
    mq: o.mq,
    packedVq: o.packedVq,
    txMode,
    trapTimeoutMs: o.trapTimeoutMs ?? 2000,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
  };
}

/** The options with their defaults filled in (resolveOptions). */
export type ResolvedOptions = ReturnType<typeof resolveOptions>;

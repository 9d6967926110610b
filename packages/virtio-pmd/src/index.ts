export { type VirtioTransport, type TrapHandler, SharedMemoryTransport, InProcessTransport, ringDoorbell, DEFAULT_TRAP_TIMEOUT_MS } from "./transport.js";
export {
  type VirtioPmdOptions, type TxMode, TX_MODES, DRIVER_KEYS, DEFAULT_QUEUE_SIZE, MIN_QUEUE_SIZE, MAX_QUEUE_SIZE, parseDriverArgs,
} from "./options.js";
export { DRIVER_FEATURES, negotiateFeatures, type FeatureOverrides } from "./negotiate.js";
export { CTRL_QUEUE_SIZE, CTRL_DATA_MAX } from "./ctrl-command.js";
export { formatMac, defaultMac } from "./mac.js";
export {
  VirtioPort, type ProbeArgs, type RxQueueConf, type TxQueueConf, type PortInfo, type LinkStatus, STOP_DRAIN_MS,
} from "./port.js";
export { type EthStats, type XStat, RX_XSTATS, TX_XSTATS, sizeBin } from "./stats.js";
export { RxQueue, RX_BURST_MAX } from "./rxq.js";
export { TxQueue, TX_BURST_MAX } from "./txq.js";
export { txKickBackstop } from "./tx-backstop.js";
export { rxBurst, txBurst, txFence, rxQueue, txQueue, bindThreadMemory, registerQueueAttacher, type QueueAttacher, type BurstRxQueue, type BurstTxQueue } from "./registry.js";
export { PMD_MAX_PORTS, PMD_MAX_QUEUES } from "./port-layout.js";
export { portTable } from "./port-table.js";
export { DEFAULT_HEARTBEAT_TIMEOUT_MS } from "./liveness.js";
export { PackedRxQueue } from "./packed-rxq.js";
export { PackedTxQueue } from "./packed-txq.js";
export { type AnyRxQueue, type AnyTxQueue, attachRxQueue, attachTxQueue } from "./registry.js";
export { isPackedQueue } from "./packed-check.js";
/** The queue zone's word holding the descriptor table's address (tests and tools that play the device by hand). */
export { Q_DESC } from "./layout.js";

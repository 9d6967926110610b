/**
 * What other workspace members (bench, scripts) reuse of l2fwd: the
 * forwarding loop (launch it by the URL of "@tpdk/l2fwd/lcore-loop"), the
 * port pairing and the shared statistics counters. main.ts is the program.
 */
export { type LcoreArg, l2fwdLoop } from "./lcore-loop.js";
export { type Destinations, assignLcores, destinations, enabledPorts, l2fwdDestinationMac } from "./pairing.js";
export { type PortCounters, STATS_ZONE, readCounters, reserveStats } from "./stats.js";

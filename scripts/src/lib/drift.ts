import type { InprocL2fwd, PortLayers } from "./inproc-l2fwd.js";

/**
 * Counter drift between the layers a frame crosses, checked while traffic
 * flows. A frame received on port p and sent out of d = dst[p] moves through
 * counters in this order (each is incremented before the next can be):
 *
 *   wire(p).generated ~ device(p).rx      same thread (device thread)
 *   -> driver(p).ipackets                 the lcore's rxBurst
 *   -> app.rx[p]                          l2fwd, after rxBurst returns
 *   -> driver(d).opackets                 txBurst, inside the lcore's flush
 *   -> app.tx[d] (+ app.dropped[d])       l2fwd, after txBurst returns
 *   driver(d).opackets -> device(d).tx ~ wire(d).received   the device thread
 *
 * For an upstream counter U and a downstream counter D, -slack <= U - D <= cap,
 * where cap is what can be in flight between them (a ring, a burst) and slack
 * what U may lag the frames it already handed on: the device adds a batch to
 * rxPackets just after publishing used.idx, the driver adds a burst to
 * opackets just after publishing avail.idx, so the next layer may count
 * those frames first (at most one burst, 64). Counters only grow, so reading
 * D before U proves U >= D - slack, and reading U before D proves U - D <=
 * cap (U then - D later <= U then - D then). Snapshot A reads the layers
 * downstream first, snapshot B upstream first.
 */
export interface Check {
  name: string;
  port: number;
  up: number;
  down: number;
  /** Largest legitimate up - down. */
  cap: number;
  /** Which bound failed. */
  bound: "lower" | "upper";
}

interface Reads {
  devices: PortLayers["device"][];
  wires: PortLayers["wire"][];
  drivers: PortLayers["driver"][];
  appRx: ReturnType<InprocL2fwd["appCounters"]>;
  appTx: ReturnType<InprocL2fwd["appCounters"]>;
  devicesRx: PortLayers["device"][];
  wiresRx: PortLayers["wire"][];
}

/**
 * Downstream first: lower bounds hold. The wires are read first as well (their received count is
 * downstream of the devices' TX) and again last (their generated count is upstream of the devices' RX).
 */
function readA(app: InprocL2fwd): Reads {
  const wires = app.readWires();
  const devices = app.readDevices();
  const appTx = app.appCounters();
  const appRx = app.appCounters();
  const drivers = app.readDrivers();
  const devicesRx = app.readDevices();
  const wiresRx = app.readWires();
  return { devices, wires, drivers, appRx, appTx, devicesRx, wiresRx };
}

/** Upstream first: upper bounds hold (the wires' generated count before the devices' RX). */
function readB(app: InprocL2fwd): Reads {
  const wiresRx = app.readWires();
  const devicesRx = app.readDevices();
  const drivers = app.readDrivers();
  const appRx = app.appCounters();
  const appTx = app.appCounters();
  const devices = app.readDevices();
  const wires = app.readWires();
  return { devices, wires, drivers, appRx, appTx, devicesRx, wiresRx };
}

/** Device-thread counters are written within one pass: they may disagree by a pass's worth either way. */
const SAME_THREAD_SLACK = 256;
/** rxBurst / txBurst take at most 64 per call. */
const BURST_MAX = 64;

/** Read both snapshots and return every bound that does not hold (empty = no drift). */
export function checkDrift(app: InprocL2fwd): Check[] {
  const a = readA(app);
  const b = readB(app);
  const out: Check[] = [];
  const idx = new Map(app.enabled.map((p, i) => [p, i]));
  const pair = (name: string, port: number, upA: number, downA: number, upB: number, downB: number, cap: number, slack = 0): void => {
    if (upA + slack < downA) out.push({ name, port, up: upA, down: downA, cap, bound: "lower" });
    if (upB - downB > cap) out.push({ name, port, up: upB, down: downB, cap, bound: "upper" });
  };
  // Counters the device thread moves in one pass, read by this thread one after the other: each
  // bound from the snapshot whose order proves it (a pause between the two reads cannot fail it).
  const near = (name: string, port: number, upA: number, downA: number, upB: number, downB: number): void =>
    pair(name, port, upA, downA, upB, downB, SAME_THREAD_SLACK, SAME_THREAD_SLACK);
  for (const p of app.enabled) {
    const d = app.dst[p]!;
    const ip = idx.get(p)!;
    const id = idx.get(d)!;
    const devRx = (r: Reads) => r.devicesRx[p]!;
    const rxAll = (r: Reads) => devRx(r).rxPackets + devRx(r).rxMissed + devRx(r).rxOther;
    near("wire.generated ~ device.rx(all)", p, a.wiresRx[p]!.generated, rxAll(a), b.wiresRx[p]!.generated, rxAll(b));
    near("device.txPackets ~ wire.received", d, a.devices[d]!.txPackets, a.wires[d]!.received, b.devices[d]!.txPackets, b.wires[d]!.received);
    pair("device.rxPackets >= driver.ipackets", p,
      devRx(a).rxPackets, a.drivers[p]!.ipackets + a.drivers[p]!.ierrors,
      devRx(b).rxPackets, b.drivers[p]!.ipackets + b.drivers[p]!.ierrors, app.rxQueueSizes[p]!, BURST_MAX);
    pair("driver.ipackets >= l2fwd.rx", p, a.drivers[p]!.ipackets, a.appRx[ip]!.rx, b.drivers[p]!.ipackets, b.appRx[ip]!.rx, BURST_MAX);
    pair("l2fwd.rx >= l2fwd.tx+dropped(dst)", p,
      a.appRx[ip]!.rx, a.appTx[id]!.tx + a.appTx[id]!.dropped,
      b.appRx[ip]!.rx, b.appTx[id]!.tx + b.appTx[id]!.dropped, 2 * app.burst);
    pair("driver.opackets >= l2fwd.tx", d, a.drivers[d]!.opackets, a.appTx[id]!.tx, b.drivers[d]!.opackets, b.appTx[id]!.tx, BURST_MAX);
    pair("driver.opackets >= device.tx", d,
      a.drivers[d]!.opackets, a.devices[d]!.txPackets + a.devices[d]!.txDropped,
      b.drivers[d]!.opackets, b.devices[d]!.txPackets + b.devices[d]!.txDropped, app.txQueueSizes[d]!, BURST_MAX);
  }
  return out;
}

/**
 * Exact conservation once traffic has drained (every generator exhausted,
 * every frame received, sent or dropped, every TX chain consumed): returns
 * what does not add up (empty = conserved).
 */
export function checkConservation(app: InprocL2fwd, generatedEach: number | null): string[] {
  const s = new Map(app.snapshot().map((l) => [l.port, l]));
  const bad: string[] = [];
  const eq = (what: string, x: number, y: number): void => {
    if (x !== y) bad.push(`${what}: ${x} != ${y}`);
  };
  for (const p of app.enabled) {
    const d = app.dst[p]!;
    const P = s.get(p)!;
    const D = s.get(d)!;
    const tag = `port ${p}`;
    if (generatedEach !== null) eq(`${tag} generated = count`, P.wire.generated, generatedEach);
    eq(`${tag} generated = device rx + missed + other`, P.wire.generated, P.device.rxPackets + P.device.rxMissed + P.device.rxOther);
    eq(`${tag} generated = device rx + wire missed`, P.wire.generated, P.device.rxPackets + P.wire.missed);
    eq(`${tag} device rx = driver ipackets`, P.device.rxPackets, P.driver.ipackets);
    eq(`${tag} driver ierrors = 0`, P.driver.ierrors, 0);
    eq(`${tag} driver ipackets = l2fwd rx`, P.driver.ipackets, P.app.rx);
    eq(`${tag} l2fwd rx = tx + dropped of port ${d}`, P.app.rx, D.app.tx + D.app.dropped);
    eq(`port ${d} l2fwd tx = driver opackets`, D.app.tx, D.driver.opackets);
    eq(`port ${d} driver opackets = device tx`, D.driver.opackets, D.device.txPackets + D.device.txDropped);
    eq(`port ${d} device txDropped = 0`, D.device.txDropped, 0);
    eq(`port ${d} device tx = wire received`, D.device.txPackets, D.wire.received);
    eq(`port ${d} wire duplicated`, D.wire.duplicated, 0);
    eq(`port ${d} wire reordered`, D.wire.reordered, 0);
    eq(`port ${d} wire bad checksums`, D.wire.badChecksum, 0);
    eq(`port ${d} wire foreign frames`, D.wire.foreign, 0);
    // Frames from p that never reached d's wire show up as lost there (except at the very end of the stream).
    if (D.wire.lost > P.wire.missed + D.app.dropped) bad.push(`port ${d} wire lost ${D.wire.lost} > missed ${P.wire.missed} + dropped ${D.app.dropped}`);
  }
  return bad;
}

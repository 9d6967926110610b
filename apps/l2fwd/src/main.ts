import { Eal, TpdkError, dropRunnerSeparator, parseEalArgs, runMain } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { type VdevPlan, VdevPorts, deviceFailureText, needsSharedMemory, planVdevs } from "@tpdk/vdev";
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, PMD_MAX_PORTS, formatMac, txKickBackstop } from "@tpdk/virtio-pmd";
import type { LcoreArg } from "./lcore-loop.js";
import { armDeviceKill, testLaunchDelay } from "./faults.js";
import { parseL2fwdArgs } from "./options.js";
import { l2fwdUsage } from "./usage.js";
import { assignLcores, destinations, enabledPorts } from "./pairing.js";
import { planWarmup, warmUp } from "./warmup.js";
import { type PortCounters, type WireCounters, formatJson, formatTable, readCounters, reserveStats } from "./stats.js";

// DPDK l2fwd's sizes: MAX_PKT_BURST, MEMPOOL_CACHE_SIZE. Ring sizes come from
// each vdev's queue_size= (default 1024, DPDK's RTE_TEST_RX/TX_DESC_DEFAULT).
const MAX_PKT_BURST = 64;
const MEMPOOL_CACHE_SIZE = 256;
/** TX buffers drained at least every this many busy passes: ~100 µs at full load (a busy pass moves up to a burst per port, ~3-5 µs at 32). */
const DRAIN_PASSES = 32;
/** How often main checks whether finite inputs have drained, and the devices' heartbeats (ms). */
const DRAIN_CHECK_MS = 50;
/**
 * The same watchdog when every enabled port is a net_virtio_user one (ms): no input can end
 * (inputExhausted is false for good), the transport's heartbeat moves while it is connected
 * (a lost back-end is reported by its link listener at once), and DeviceLiveness counts gaps
 * between checks up to a quarter of its timeout, so a dead device is found as fast (at most a
 * quarter of the port's heartbeat_timeout_ms apart). Each timer fire costs the main thread
 * ~0.5 KB of garbage (Node's timer code and this callback, unoptimized at these rates: a heap
 * profile, bench README "GC on every thread"): at 50 ms that was a scavenge every few minutes.
 */
const WATCHDOG_USER_MS = 500;

runMain(async () => {
  // 1. Everything the user typed is checked before any thread starts.
  const { eal: ealOpts, appArgs } = parseEalArgs(dropRunnerSeparator(process.argv.slice(2)));
  // A request for help, before or after the "--", prints the usage and nothing is checked.
  if (ealOpts.help || parseL2fwdArgs(appArgs).help) {
    console.log(l2fwdUsage());
    return 0;
  }
  const opts = parseL2fwdArgs(appArgs);
  const plans = planVdevs(ealOpts.vdevs);
  const nbPorts = plans.length;
  const enabled = enabledPorts(opts.portmask, nbPorts);
  const { dst, notices } = destinations(enabled, opts.portmap, nbPorts);
  const lcorePorts = assignLcores(enabled, ealOpts.lcores, opts.portsPerLcore);
  notices.forEach((n) => console.log(n));
  // --warmup: the JIT warm-up's private ports (warmup.ts) follow the user's (mirrors of them, or a
  // pair per forwarding lcore); built-in ports, so only when the device thread runs anyway.
  const warmPlan =
    opts.warmup > 0 && plans.some((p) => p.kind === "virtio")
      ? planWarmup(plans, enabled, dst, lcorePorts, unusedVirtioIndex(plans), opts.warmup)
      : null;
  const warm =
    warmPlan && nbPorts + warmPlan.vdevs.length <= PMD_MAX_PORTS
      ? planVdevs(warmPlan.vdevs).map((p, i) => ({ ...p, portId: nbPorts + i }))
      : [];
  const allPlans = [...plans, ...warm];

  // 2. Memory and the lcore threads (created, pinned and with the forwarding
  // loop loaded now, as rte_eal_init does, so that the launch below is one
  // message and the first poll follows the ports' start within a millisecond),
  // the mbuf pool, the devices and their ports. net_virtio_user ports share
  // EAL memory with their back-end: a memfd it can map.
  const lcoreLoop = new URL("./lcore-loop.js", import.meta.url);
  const eal = Eal.init({ ...ealOpts, sharedMemory: needsSharedMemory(plans) }, { preload: [lcoreLoop] });
  // net_vhost ports keep no mbufs in rings (frames are copied within a burst).
  const ringMbufs = allPlans.reduce((n, p) => n + (p.kind === "net_vhost" ? 0 : 2 * (p.driver.queueSize ?? 1024)), 0);
  const nbMbufs = Math.max(ringMbufs + allPlans.length * (MAX_PKT_BURST + lcorePorts.size * MEMPOOL_CACHE_SIZE), 8192);
  const pool = Mempool.create(eal.mem, "mbuf_pool", { n: nbMbufs, cacheSize: MEMPOOL_CACHE_SIZE });
  const [bus] = await Promise.all([
    VdevPorts.start(eal.mem, allPlans, { deviceCpu: eal.serviceCpu(), busyPoll: ealOpts.busyPoll, memoryFd: eal.memoryFd }),
    eal.ready(),
  ]);
  // Counters for every port, the warm-up's too (each lcore writes its ports' slots).
  const statsOffset = reserveStats(eal.mem, allPlans.length);
  const macs: number[][] = [];
  try {
    if (warmPlan && warm.length > 0) {
      await warmUp(eal, bus, pool, lcoreLoop, warmPlan, { frames: opts.warmup, burst: opts.burst, macUpdating: opts.macUpdating, statsOffset, drainPasses: DRAIN_PASSES, busyPoll: ealOpts.busyPoll });
    }
    for (const port of bus.ports.slice(0, nbPorts)) {
      const id = port.portId;
      macs[id] = [...port.macAddr()];
      if (!enabled.includes(id)) continue;
      console.log(`Initializing port ${id}... done`);
      port.configure(1, 1);
      port.rxQueueSetup(0, { pool });
      port.txQueueSetup(0);
    }
    // Every port is set up before the first one starts, as DPDK's l2fwd does.
    // A port's wire starts once the port is started and the lcores have
    // launched (the vdev bus's devices wait for the EAL's launch word).
    for (const id of enabled) {
      const port = bus.ports[id]!;
      const info = port.start();
      if (opts.promiscuous) port.promiscuousEnable();
      console.log(`Port ${id}, MAC address: ${formatMac(info.mac)}`);
    }
  } catch (e) {
    // A trap to a failed device thread only times out: name the failure instead.
    throw await bus.explain(e);
  }
  await waitForLinks(bus, enabled);
  for (const p of enabled) {
    const link = bus.ports[p]!.linkStatus();
    console.log(link.up ? `Port ${p} Link up at ${link.speed / 1000} Gbps FDX` : `Port ${p} Link down`);
  }

  // 3. The forwarding lcores.
  let stopping: string | undefined;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = why;
    eal.stop();
  };
  eal.onSignal((signo) => {
    console.log(`\n\nSignal ${signo} received, preparing to exit...`);
    stop("signal");
  });
  for (const [lcore, ports] of lcorePorts) {
    for (const p of ports) console.log(`Lcore ${lcore}: RX port ${p} TX port ${dst[p]}`);
  }
  const lcoreIds = [...lcorePorts.keys()];
  await testLaunchDelay();
  await eal.launch(lcoreLoop, "l2fwdLoop", (lcore): LcoreArg => ({
    rxPorts: lcorePorts.get(lcore) ?? [],
    dst,
    macs,
    macUpdating: opts.macUpdating,
    burst: opts.burst,
    statsOffset,
    drainPasses: DRAIN_PASSES,
    primePools: ["mbuf_pool"],
  }));
  const done = eal.wait();
  done.catch(() => stop("lcore failed"));

  // 4. Statistics every -T seconds; every 50 ms (500 ms when every port is a
  // net_virtio_user one: WATCHDOG_USER_MS) the devices' heartbeats (a dead
  // device thread: report, stop, exit 1) and whether finite inputs drained.
  const t0 = performance.now();
  let prev: PortCounters[] = readCounters(eal.mem, statsOffset, enabled);
  let prevT = t0;
  const wireCounters = (): WireCounters[] => enabled.map((p) => portFaultCounters(bus, p));
  const print = (): void => {
    const now = readCounters(eal.mem, statsOffset, enabled);
    const t = performance.now();
    if (opts.json) console.log(formatJson((t - t0) / 1000, now, prev, (t - prevT) / 1000, wireCounters()));
    else console.log(formatTable(now, process.stdout.isTTY === true, wireCounters()));
    prev = now;
    prevT = t;
  };
  let fault: string | undefined;
  let silent = false;
  const deviceFault = (why: string, noHeartbeat: boolean, threadAlive = false): void => {
    if (fault || stopping) return;
    fault = why;
    silent = noHeartbeat;
    process.stderr.write(`l2fwd: ${why}; exiting\n`);
    // Every port is served by the same device thread: none of them will answer (unless it lives on).
    if (!threadAlive) for (const port of bus.ports) port.markDeviceDead(why);
    stop("device fault");
  };
  bus.failed.catch((e: unknown) => deviceFault(deviceFailureText(e), false));
  bus.onLinkChange((p, up, why) => {
    if (up) return console.log(`Port ${p} Link up (${bus.ports[p]!.name}: ${why})`);
    // A net_vhost port serves whichever front-end comes: its leaving is no fault.
    if (bus.vhostPort(p)) return console.log(`Port ${p} Link down (${bus.ports[p]!.name}: ${why}); waiting for a front-end`);
    // A client port has nobody to wait for (DPDK's virtio_user client does not reconnect): stop.
    if (bus.userTransports[p]?.waitsForReconnect) return console.log(`Port ${p} Link down (${bus.ports[p]!.name}: ${why}); waiting for the back-end to reconnect`);
    if (fault || stopping) return;
    fault = `port ${p} (${bus.ports[p]!.name}): vhost-user back-end gone: ${why}`;
    process.stderr.write(`l2fwd: ${fault}; exiting\n`);
    // Only this port lost its device: its rings' mbufs come back without waiting for it; the others drain normally.
    bus.ports[p]!.markDeviceDead(why);
    stop("device fault");
  });
  const timers: NodeJS.Timeout[] = [];
  if (opts.statsPeriod > 0) timers.push(setInterval(print, opts.statsPeriod * 1000));
  let watchdogMs = enabled.length > 0 ? WATCHDOG_USER_MS : DRAIN_CHECK_MS;
  for (const p of enabled) {
    const plan = plans[p]!;
    if (plan.kind !== "virtio_user") watchdogMs = DRAIN_CHECK_MS;
    else watchdogMs = Math.min(watchdogMs, Math.max(DRAIN_CHECK_MS, (plan.driver.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS) / 4));
  }
  timers.push(
    setInterval(() => {
      // The watchdog runs here, on the main thread, never on the data path. It runs every 50 ms for
      // the whole run, so it allocates nothing while all is well (index loops; inputExhausted's too):
      // the main thread's garbage in the measured windows (bench README, GC on every thread).
      const now = performance.now();
      for (let i = 0; i < enabled.length; i++) {
        const p = enabled[i]!;
        const port = bus.ports[p]!;
        // The last backstop of the TX queues' deferred kick check (split and packed) (the lcore's txFence runs first).
        if (plans[p]!.kind !== "net_vhost") txKickBackstop(eal.mem, p);
        if (!port.checkDevice(now)) {
          // DEVICE_NEEDS_RESET: that device stopped processing (link down), the thread still answers.
          if (port.needsReset) {
            // The device thread may have said why (`failed`, a message perhaps still queued): its line wins.
            const line = `port ${p} (${port.name}): link down: ${port.deviceFault}`;
            void bus.explain(null).then(() => deviceFault(line, false, true));
            return;
          }
          return deviceFault(`device thread stopped answering (port ${p}: ${port.deviceFault})`, true);
        }
      }
      if (bus.inputExhausted(nbPorts) && drained(readCounters(eal.mem, statsOffset, enabled), bus, enabled)) stop("input drained");
    }, watchdogMs),
  );
  const killTimer = armDeviceKill(() => void bus.kill());
  if (lcoreIds.length === 0) stop("no lcore has a port");

  // 5. Shutdown: lcores stop and flush their TX buffers, ports drain and close, wires flush.
  let failure: unknown;
  try {
    await done;
  } catch (e) {
    failure = e;
  }
  timers.forEach((t) => clearInterval(t));
  clearTimeout(killTimer);
  // A silent thread may be hung rather than gone: stop() would wait for it, terminating it cannot hang.
  // (A thread that reported a failure still runs: it is stopped normally, flushing the wires.)
  if (silent) await bus.kill();
  await bus.close();
  await eal.close();
  print();
  if (failure) throw failure;
  const leaked = pool.inUse();
  if (leaked !== 0) throw new TpdkError("ELEAK", `${leaked} mbuf(s) of ${pool.size} were not returned to mbuf_pool`);
  for (const [i, w] of wireCounters().entries()) {
    if (w.wireWriteErrors) {
      const why = w.wireLastWriteError ? ` (last error: ${w.wireLastWriteError})` : "";
      process.stderr.write(`l2fwd: warning: port ${enabled[i]}: its wire failed to write ${w.wireWriteErrors} frame(s)${why}\n`);
    }
  }
  if (fault) return 1; // the reason was printed when it was noticed
  console.log("Bye...");
  return 0;
}, { prog: "l2fwd" });

/**
 * DPDK l2fwd's check_all_ports_link_status: wait up to 9 s (90 x 100 ms) for
 * every enabled port's link, printing a dot per wait, then go on either way
 * (a net_vhost port's link comes up when a front-end enables its rings; the
 * lines printed after this say which links are down). The event loop runs
 * meanwhile: that is where vhost-user front-ends are served.
 */
async function waitForLinks(bus: VdevPorts, enabled: readonly number[]): Promise<void> {
  // Only net_vhost links come up later (the other kinds' are up at start, or down for a reason
  // waiting would not change: a device fault is reported on its own).
  const down = (): boolean => enabled.some((p) => bus.vhostPort(p) !== undefined && !bus.ports[p]!.linkStatus().up);
  if (!down()) return;
  process.stdout.write("\nChecking link status");
  for (let i = 0; i < 90 && down(); i++) {
    process.stdout.write(".");
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(down() ? "done (some links are still down; forwarding starts anyway)" : "done");
}

/** A virtioN index no --vdev uses (for the warm-up's private ports). */
function unusedVirtioIndex(plans: readonly VdevPlan[]): number {
  let max = -1;
  for (const p of plans) {
    const m = /(\d+)$/.exec(p.name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** The port's fault counters from its driver, device and wire (cold: every -T seconds and at exit). */
function portFaultCounters(bus: VdevPorts, p: number): WireCounters {
  const port = bus.ports[p]!;
  const dev = bus.devices[p];
  let txRingFull = 0;
  const xstats = port.xstats();
  for (const x of xstats) if (/^tx_q\d+_ring_full$/.test(x.name)) txRingFull += x.value;
  if (!dev) {
    // A vhost-user port: what the back-end did with the frames is its own to count; delivered is
    // what the port handed to a back-end, less the frames a ring reset freed unused (a packed
    // ring's back-end died: tx_qN_reset_dropped_packets).
    let resetDropped = 0;
    for (const x of xstats) if (/^tx_q\d+_reset_dropped_packets$/.test(x.name)) resetDropped += x.value;
    const s = port.stats();
    // Its peer is untrusted either way (a net_vhost port's front-end, a net_virtio_user port's
    // back-end): what it got wrong (bad descriptors, bad used entries, protocol errors) is in the xstats.
    return { missed: 0, delivered: s.opackets - resetDropped, rxNombuf: s.rx_nombuf, txRingFull, wireWriteErrors: 0, wireLastWriteError: null, xstats: nonZero(xstats) };
  }
  const wire = dev.wireStats();
  // Frames the wire took but could not write out: failed writes or sends, and
  // (udp) frames dropped because its send pool was full.
  const notWritten = wire.writeErrors + wire.sendDropped;
  return {
    missed: dev.stats().rxMissed,
    // What the wire took and did write out (or has in flight): sent = delivered + wire write errors.
    delivered: wire.received - notWritten,
    rxNombuf: port.stats().rx_nombuf,
    txRingFull,
    wireWriteErrors: notWritten,
    wireLastWriteError: wire.lastWriteError,
  };
}

/** The xstats that are not zero, by name (cold). */
function nonZero(xs: readonly { name: string; value: number }[]): Record<string, number> {
  const o: Record<string, number> = {};
  for (const x of xs) if (x.value !== 0) o[x.name] = x.value;
  return o;
}

/**
 * Everything the devices delivered has been received by l2fwd, and everything
 * l2fwd received has been sent or dropped (no frame sits in a TX buffer).
 * Called after inputExhausted(): the devices will deliver nothing more.
 */
function drained(c: readonly PortCounters[], bus: VdevPorts, enabled: readonly number[]): boolean {
  let rx = 0;
  let out = 0;
  for (let i = 0; i < enabled.length; i++) {
    const dev = bus.devices[enabled[i]!];
    if (dev && dev.stats().rxPackets !== c[i]!.rx) return false;
    rx += c[i]!.rx;
    out += c[i]!.tx + c[i]!.dropped;
  }
  return rx === out;
}

import { UsageError, assertNoUnknownKeys, parseDevargs } from "@tpdk/eal";
import { type WireSpec, parseWireSpec, validateWirePeers } from "@tpdk/vhost";
import { type NetVhostOptions, type VirtioUserOptions, DEFAULT_VIRTIO_USER_QUEUE_SIZE, parseNetVhostArgs, parseVirtioUserArgs } from "@tpdk/vhost-user";
import { type VirtioPmdOptions, PMD_MAX_PORTS, formatMac, parseDriverArgs } from "@tpdk/virtio-pmd";
import { VDEV_KINDS } from "./kinds.js";

interface PlanBase {
  /** ethdev port id: the position of the --vdev on the command line. */
  readonly portId: number;
  /** "virtio0", "net_virtio_user0" */
  readonly name: string;
  readonly vdev: string;
  readonly driver: VirtioPmdOptions;
  /**
   * `mac=`: the device's MAC ("02:00:00:00:00:0a"), as DPDK virtio_user's
   * `mac=` sets its device's. The driver then reads it from the device config
   * (it may not write it there, virtio 1.2 §5.1.4.2), so `driver.mac` stays unset.
   */
  readonly mac?: string;
}

/** A built-in software virtio-net device (device thread) on a wire. */
export interface BuiltinPlan extends PlanBase {
  readonly kind: "virtio";
  readonly wire: WireSpec;
}

/** The driver as a vhost-user front-end to a back-end in another process (DPDK's net_virtio_user). */
export interface VirtioUserPlan extends PlanBase {
  readonly kind: "virtio_user";
  readonly user: VirtioUserOptions;
}

/**
 * A vhost-user back-end port serving a front-end in another process (DPDK's
 * net_vhost): no virtio driver, its rxBurst/txBurst work on the front-end's rings.
 */
export interface NetVhostPlan {
  readonly kind: "net_vhost";
  readonly portId: number;
  readonly name: string;
  readonly vdev: string;
  readonly vhost: NetVhostOptions;
}

/**
 * One `--vdev` string, understood. Planning only reads and validates (pcap
 * inputs are read, outputs opened), so every bad vdev is reported before any
 * thread starts.
 */
export type VdevPlan = BuiltinPlan | VirtioUserPlan | NetVhostPlan;

export function planVdevs(vdevs: readonly string[]): VdevPlan[] {
  if (vdevs.length > PMD_MAX_PORTS) throw new UsageError(`--vdev: ${vdevs.length} devices given, at most ${PMD_MAX_PORTS} ports are supported`);
  const seen = new Set<string>();
  const plans = vdevs.map((vdev, portId): VdevPlan => {
    const d = parseDevargs(vdev);
    if (seen.has(d.name)) throw new UsageError(`--vdev ${vdev}: device name ${d.name} is used twice; give each --vdev its own index`);
    seen.add(d.name);
    if (d.driver === "net_virtio_user" || d.driver === "virtio_user") {
      // DPDK's virtio_user rings default to 256 entries, not the ethdev's 1024.
      if (!d.args.has("queue_size")) d.args.set("queue_size", String(DEFAULT_VIRTIO_USER_QUEUE_SIZE));
      const driver = parseDriverArgs(d.name, d.args);
      // mac= is the device's MAC here too: the front-end's emulated config holds it.
      const user = parseVirtioUserArgs(d.name, d.args, driver.queueSize ?? DEFAULT_VIRTIO_USER_QUEUE_SIZE, driver.mac);
      delete driver.mac;
      assertNoUnknownKeys(d.args, d.name);
      return { kind: "virtio_user", portId, name: d.name, vdev, driver, user };
    }
    if (d.driver === "net_vhost" || d.driver === "eth_vhost") {
      const vhost = parseNetVhostArgs(d.name, d.args);
      assertNoUnknownKeys(d.args, d.name);
      return { kind: "net_vhost", portId, name: d.name, vdev, vhost };
    }
    if (d.driver !== "virtio") {
      throw new UsageError(`--vdev ${vdev}: unknown driver "${d.driver}"; tpdk has ${VDEV_KINDS.map((k) => `${k.prefix}N`).join(" and ")}, e.g. --vdev virtio0,wire=gen`);
    }
    const driver = parseDriverArgs(d.name, d.args);
    const wire = parseWireSpec(d.name, d.args);
    assertNoUnknownKeys(d.args, d.name);
    const mac = driver.mac === undefined ? undefined : formatMac(driver.mac);
    delete driver.mac;
    return mac === undefined ? { kind: "virtio", portId, name: d.name, vdev, wire, driver } : { kind: "virtio", portId, name: d.name, vdev, wire, driver, mac };
  });
  const builtin = plans.filter((p): p is BuiltinPlan => p.kind === "virtio");
  // The device thread numbers its devices in --vdev order; a loop's peer= is a port id, so the two must agree.
  const firstUser = plans.findIndex((p) => p.kind !== "virtio");
  const misplaced = builtin.find((p) => p.wire.kind === "loop" && firstUser >= 0 && firstUser < builtin[builtin.length - 1]!.portId);
  if (misplaced) {
    throw new UsageError(`${misplaced.name}: wire=loop ports need their --vdev before every net_virtio_user and net_vhost one; move those --vdev last`);
  }
  validateWirePeers(builtin); // loop peers point back, udp local addresses distinct
  const ifaces = new Map<string, string>();
  for (const p of plans) {
    if (p.kind !== "net_vhost") continue;
    const other = ifaces.get(p.vhost.iface);
    if (other) throw new UsageError(`${p.name}: iface=${p.vhost.iface} is also ${other}'s; give each net_vhost port its own socket`);
    ifaces.set(p.vhost.iface, p.name);
  }
  return plans;
}

/** True when some port needs EAL memory another process can map. */
export function needsSharedMemory(plans: readonly VdevPlan[]): boolean {
  return plans.some((p) => p.kind === "virtio_user");
}

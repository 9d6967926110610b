import { UsageError, assertNoUnknownKeys, parseDevargs } from "@tpdk/eal";
import { type WireSpec, parseWireSpec, validateWirePeers } from "@tpdk/vhost";
import { type VirtioPmdOptions, PMD_MAX_PORTS, formatMac, parseDriverArgs } from "@tpdk/virtio-pmd";

/**
 * One `--vdev` string, understood: the device's wire and the driver's options.
 * Planning only reads and validates (pcap inputs are read, outputs opened), so
 * every bad vdev is reported before any thread starts.
 */
export interface VdevPlan {
  /** ethdev port id: the position of the --vdev on the command line. */
  readonly portId: number;
  /** "virtio0" */
  readonly name: string;
  readonly vdev: string;
  readonly wire: WireSpec;
  readonly driver: VirtioPmdOptions;
  /**
   * `mac=`: the device's MAC ("02:00:00:00:00:0a"), as DPDK virtio_user's
   * `mac=` sets its device's. The driver then reads it from the device config
   * (it may not write it there, virtio 1.2 §5.1.4.2), so `driver.mac` stays unset.
   */
  readonly mac?: string;
}

export function planVdevs(vdevs: readonly string[]): VdevPlan[] {
  if (vdevs.length > PMD_MAX_PORTS) throw new UsageError(`--vdev: ${vdevs.length} devices given, at most ${PMD_MAX_PORTS} ports are supported`);
  const seen = new Set<string>();
  const plans = vdevs.map((vdev, portId) => {
    const d = parseDevargs(vdev);
    if (d.driver !== "virtio") {
      throw new UsageError(`--vdev ${vdev}: unknown driver "${d.driver}"; tpdk has virtio devices: use --vdev virtio0,wire=gen`);
    }
    if (seen.has(d.name)) throw new UsageError(`--vdev ${vdev}: device name ${d.name} is used twice; give each --vdev its own index`);
    seen.add(d.name);
    const driver = parseDriverArgs(d.name, d.args);
    const wire = parseWireSpec(d.name, d.args);
    assertNoUnknownKeys(d.args, d.name);
    const mac = driver.mac === undefined ? undefined : formatMac(driver.mac);
    delete driver.mac;
    return mac === undefined ? { portId, name: d.name, vdev, wire, driver } : { portId, name: d.name, vdev, wire, driver, mac };
  });
  validateWirePeers(plans); // across vdevs: loop peers point back, udp local addresses distinct
  return plans;
}

import { native, nativeMissingReason } from "@tpdk/native";
import { type CompareOptions, type DpdkRow, SHOWN_SOCK, alternate, bestPair, displayPair, pairOptions } from "./compare.js";
import { backEndCommand, frontEndCommand } from "./commands.js";
import { type DpdkEnv, TESTPMD, detectDpdk, runVhostPair } from "./testpmd.js";

/**
 * The vhost-user section: ONE DPDK back-end (testpmd net_vhost, flowgen)
 * facing, alternately, DPDK's own front-end (testpmd net_virtio_user, mac
 * forwarding) and tpdk's (l2fwd on a net_virtio_user port). Same back-end,
 * same CPUs, same frames: the difference is the front-end's driver and its
 * forwarding loop. Delivered rate = what the back-end receives back.
 * The back-end is the same in every run, burst 32 included: only the
 * front-end's burst varies (as tpdk's device thread batches whatever its
 * lcore's burst), so at burst 1 the front-ends, not the generator, pay the
 * per-burst costs. tpdk's l2fwd runs traced (--trace-gc, the GC probe in
 * every thread, testpmd.ts gcTrace): each row says how many GCs its lcore and
 * main thread had inside the measured windows.
 */

/** The back-end's burst in every run of the section. */
export const BACK_END_BURST = 32;

export interface VhostUserSection {
  /** Why the section did not run (null: it ran). */
  skipped: string | null;
  env: DpdkEnv | null;
  /** The command lines (burst 32 or the first burst compared). */
  commands: { backEnd: string; dpdk: string; tpdk: string } | null;
  /** dpdk: DPDK's front-end, tpdk: tpdk's, per ring layout and burst. */
  rows: DpdkRow[];
}

/** Why the section cannot run here, or null. */
export function vhostUserMissing(env: DpdkEnv): string | null {
  if (!env.testpmd) return `vhost-user section skipped: ${TESTPMD} not found (Debian/Ubuntu: apt-get install dpdk-dev)`;
  if (!native) return `vhost-user section skipped: tpdk's net_virtio_user needs the native addon @tpdk/native: ${nativeMissingReason}`;
  return null;
}

export function vhostUserCommands(bursts: readonly number[], hugepages: boolean): NonNullable<VhostUserSection["commands"]> {
  const shown = { ...displayPair(bursts, hugepages), backEndBurst: BACK_END_BURST };
  return {
    backEnd: backEndCommand(shown, SHOWN_SOCK).join(" "),
    dpdk: frontEndCommand("dpdk", shown, SHOWN_SOCK).join(" "),
    tpdk: frontEndCommand("tpdk", shown, SHOWN_SOCK).join(" "),
  };
}

/**
 * DPDK's front-end, then tpdk's, at each burst of each repetition (alternate()), once per
 * ring layout: split, then packed (packed_vq=1 on both front-ends; each is compared with
 * DPDK on the same layout).
 */
export async function compareFrontEnds(o: CompareOptions, rings: readonly ("split" | "packed")[] = ["split"]): Promise<VhostUserSection> {
  const env = detectDpdk();
  const skipped = vhostUserMissing(env);
  if (skipped || !env.testpmd) return { skipped, env, commands: null, rows: [] };
  const rows: DpdkRow[] = [];
  for (const ring of rings) {
    // gcTrace: tpdk's l2fwd reports its GCs per thread inside each window (the target: none on any thread).
    const base = { ...pairOptions(o, env.hugepages, env.testpmd), backEndBurst: BACK_END_BURST, packed: ring === "packed", gcTrace: true };
    const r = await alternate(o, `vhost-user ${ring}`, {
      dpdk: (burst) => bestPair(() => runVhostPair({ ...base, burst }, "dpdk"), o.spawn),
      tpdk: (burst) => bestPair(() => runVhostPair({ ...base, burst }, "tpdk"), o.spawn),
    });
    for (const row of r) rows.push({ ...row, ring });
  }
  return { skipped: null, env, commands: vhostUserCommands(o.bursts, env.hugepages), rows };
}

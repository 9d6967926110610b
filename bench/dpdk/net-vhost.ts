import { native, nativeMissingReason } from "@tpdk/native";
import { gapLineMove } from "../lib/line-move.js";
import { type CompareOptions, type DpdkRow, SHOWN_SOCK, alternate, bestPair, displayPair, pairOptions } from "./compare.js";
import { forwarderBackEndCommand, generatorCommand } from "./commands.js";
import { type DpdkEnv, TESTPMD, detectDpdk, runVhostPair } from "./testpmd.js";

/**
 * The net-vhost section: the vhost-user section with the roles swapped.
 * ONE DPDK front-end (testpmd net_virtio_user, flowgen, burst 32) faces,
 * alternately, DPDK's own back-end (testpmd net_vhost, mac forwarding) and
 * tpdk's (l2fwd on a net_vhost port, the rings processed inside the lcore's
 * rxBurst/txBurst). Same front-end, same CPUs, same frames: the difference
 * is the back-end's vhost code and its forwarding loop. Delivered rate =
 * what the front-end receives back. Only the back-end's burst varies.
 */

/** The generating front-end's burst in every run of the section. */
export const GENERATOR_BURST = 32;

export interface NetVhostSection {
  /** Why the section did not run (null: it ran). */
  skipped: string | null;
  env: DpdkEnv | null;
  /** The command lines (burst 32 or the first burst compared). */
  commands: { frontEnd: string; dpdk: string; tpdk: string } | null;
  /** dpdk: DPDK's back-end, tpdk: tpdk's, per burst. */
  rows: DpdkRow[];
}

/** Why the section cannot run here, or null. */
export function netVhostMissing(env: DpdkEnv): string | null {
  if (!env.testpmd) return `net-vhost section skipped: ${TESTPMD} not found (Debian/Ubuntu: apt-get install dpdk-dev)`;
  if (!native) return `net-vhost section skipped: tpdk's net_vhost needs the native addon @tpdk/native: ${nativeMissingReason}`;
  return null;
}

export function netVhostCommands(bursts: readonly number[], hugepages: boolean): NonNullable<NetVhostSection["commands"]> {
  const shown = { ...displayPair(bursts, hugepages), generatorBurst: GENERATOR_BURST };
  return {
    frontEnd: generatorCommand(shown, SHOWN_SOCK).join(" "),
    dpdk: forwarderBackEndCommand("dpdk", shown, SHOWN_SOCK).join(" "),
    tpdk: forwarderBackEndCommand("tpdk", shown, SHOWN_SOCK).join(" "),
  };
}

/**
 * DPDK's back-end, then tpdk's, at each burst of each repetition (alternate()); with `o.lineMoveMs`
 * the line move after every run names the host's level around each tpdk run (row.lineMoves).
 */
export async function compareBackEnds(o: CompareOptions): Promise<NetVhostSection> {
  const env = detectDpdk();
  const skipped = netVhostMissing(env);
  if (skipped || !env.testpmd) return { skipped, env, commands: null, rows: [] };
  const base = { ...pairOptions(o, env.hugepages, env.testpmd), generatorBurst: GENERATOR_BURST };
  const lineMoveMs = o.lineMoveMs ?? 0;
  const rows = await alternate(
    o,
    "net-vhost",
    {
      dpdk: (burst) => bestPair(() => runVhostPair({ ...base, burst }, "dpdk", "back-end"), o.spawn),
      tpdk: (burst) => bestPair(() => runVhostPair({ ...base, burst }, "tpdk", "back-end"), o.spawn),
    },
    // Between the pairs (each run starts its own): a label, not a result; a failure prints one line.
    lineMoveMs > 0 ? (at) => gapLineMove(lineMoveMs, at, o.progress) : undefined,
  );
  return { skipped: null, env, commands: netVhostCommands(o.bursts, env.hugepages), rows };
}

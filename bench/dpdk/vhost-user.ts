import { native, nativeMissingReason } from "@tpdk/native";
import { type GapMove, type LeveledRatio, aroundText, leveledRatios } from "../lib/host-level.js";
import { gapLineMove } from "../lib/line-move.js";
import { type CompareOptions, type DpdkRow, SHOWN_SOCK, addRun, burstRow, displayPair, newBurstAcc, pairOptions, runText } from "./compare.js";
import { backEndCommand, frontEndCommand } from "./commands.js";
import { type Turn, bracketRatios, faceInTurn } from "./shared-back-end.js";
import { type DpdkEnv, TESTPMD, detectDpdk } from "./testpmd.js";

/**
 * The vhost-user section: a DPDK back-end (testpmd net_vhost, flowgen)
 * facing, in turn, DPDK's own front-end (testpmd net_virtio_user, mac
 * forwarding) and tpdk's (l2fwd on a net_virtio_user port). Same back-end
 * instance, same CPUs, same frames: the difference is the front-end's
 * driver and its forwarding loop. Delivered rate = what the back-end
 * receives back. Each repetition is a new back-end instance, faced by the
 * front-ends in turn (shared-back-end.ts says why).
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
 * Per ring layout (split, then packed: packed_vq=1 on both front-ends, each
 * compared with DPDK on the same layout), `o.repeat` back-end instances,
 * each faced in turn (shared-back-end.ts) at every burst by DPDK's
 * front-end, then tpdk's and DPDK's again `tpdkRuns` times. A row's ratio is
 * the median over its tpdk runs of each run's rate over the DPDK runs around
 * it on the same instance. With `o.lineMoveMs`, after every run (the back-end still running) a line
 * bounced between the CPUs names the host's level (lib/line-move.ts): each tpdk run carries the
 * gaps before and after it (row.lineMoves, in pairRatios' order) and the report prints the level
 * beside the ratio (lib/host-level.ts).
 */
export async function compareFrontEnds(o: CompareOptions, rings: readonly ("split" | "packed")[] = ["split"], tpdkRuns = 1): Promise<VhostUserSection> {
  const env = detectDpdk();
  const skipped = vhostUserMissing(env);
  if (skipped || !env.testpmd) return { skipped, env, commands: null, rows: [] };
  const rows: DpdkRow[] = [];
  const lineMoveMs = o.lineMoveMs ?? 0;
  for (const ring of rings) {
    // gcTrace: tpdk's l2fwd reports its GCs per thread inside each window (the target: none on any thread).
    const base = { ...pairOptions(o, env.hugepages, env.testpmd), backEndBurst: BACK_END_BURST, packed: ring === "packed", gcTrace: true };
    const acc = new Map(o.bursts.map((b) => [b, newBurstAcc()]));
    for (let rep = 0; rep < o.repeat; rep++) {
      const turns: Turn[] = [];
      for (const burst of o.bursts) {
        turns.push({ side: "dpdk", kind: "dpdk", opts: { ...base, burst } });
        for (let k = 0; k < tpdkRuns; k++) {
          turns.push({ side: "tpdk", kind: "tpdk", opts: { ...base, burst } });
          turns.push({ side: "dpdk", kind: "dpdk", opts: { ...base, burst } });
        }
      }
      const tag = `[vhost-user ${ring} back-end ${rep + 1}/${o.repeat}]`;
      /** gaps[i]: the line move right after run i, the back-end still running (null: not measured). */
      const gaps: (GapMove | null)[] = [];
      const res = await faceInTurn(
        { ...base, burst: BACK_END_BURST },
        turns,
        o.spawn,
        (r, i) => {
          const who = `run ${i + 1}/${turns.length} burst=${r.turn.opts.burst} ${r.turn.kind === "dpdk" ? "DPDK" : "tpdk"}`;
          o.progress(`${tag} ${who} ${r.run ? runText(r.run) : `FAILED: ${r.error!.split("\n")[0]}`}`);
        },
        async (i) => {
          // A label, not a result: a failed measurement prints one line and the section goes on.
          if (lineMoveMs > 0) gaps[i] = await gapLineMove(lineMoveMs, `${tag} after run ${i + 1}/${turns.length}: line move`, o.progress);
        },
      );
      for (const r of res) {
        const a = acc.get(r.turn.opts.burst)!;
        const name = r.turn.kind === "dpdk" ? "DPDK" : "tpdk";
        if (r.run) addRun(a, r.turn.kind, r.run);
        else a.failures.push(`${name}: ${r.error}`);
      }
      const ratios = leveledRatios(bracketRatios(res), gaps);
      for (const { index, ratio, ...around } of ratios) {
        const a = acc.get(res[index]!.turn.opts.burst)!;
        a.ratios.push(ratio);
        if (lineMoveMs > 0) a.lineMoves.push(around);
      }
      const level = (l: LeveledRatio): string => (lineMoveMs > 0 ? ` (line move ${aroundText(l)})` : "");
      o.progress(`${tag} tpdk over the DPDK runs around it: ${ratios.map((l) => `b${res[l.index]!.turn.opts.burst} ${(100 * l.ratio).toFixed(0)} %${level(l)}`).join(", ") || "none"}`);
    }
    for (const burst of o.bursts) rows.push({ ...burstRow(burst, acc.get(burst)!), ring });
  }
  return { skipped: null, env, commands: vhostUserCommands(o.bursts, env.hugepages), rows };
}

/**
 * vu-shared.js's --sides: "dpdk", or a tpdk worktree with optional extra vdev keys for its
 * front-end after colons, e.g. /work/main:tx_mode=indirect (one worktree, several port
 * configurations, in one batch). Only keys the common front-end keys (commands.ts
 * FRONT_END_KEYS) do not set, with values checked here, so a typo fails before any run.
 * One key is not a vdev key: node=PATH, the node binary that runs the side's l2fwd (default: the
 * tool's own, process.execPath), e.g. /work/wt-n26:node=/opt/node-26/bin/node for tpdk under another
 * Node (its native addon built for that Node's ABI, in that worktree).
 */
import { accessSync, constants, statSync } from "node:fs";
import { isAbsolute } from "node:path";

export interface Side {
  /** The name the runs are reported under (the argument as given). */
  readonly name: string;
  readonly kind: "dpdk" | "tpdk";
  /** The worktree (tpdk). */
  readonly dir: string;
  /** Extra vdev keys for the tpdk front-end, comma-joined ("" = none). */
  readonly keys: string;
  /** The node binary for the side's l2fwd ("" = the tool's own, process.execPath). */
  readonly node: string;
}

/** Extra keys a side may set, and what each takes (virtio-pmd's devargs, packages/virtio-pmd/README.md). */
const SIDE_KEYS: Readonly<Record<string, RegExp>> = {
  tx_mode: /^(auto|chained|push|indirect)$/,
  indirect: /^[01]$/,
  event_idx: /^[01]$/,
  mrg_rxbuf: /^[01]$/,
  queue_size: /^[1-9][0-9]{0,4}$/,
};

/** Why `path` cannot be a side's node binary, or null: an absolute path to an executable file. */
function nodeProblem(path: string): string | null {
  if (!isAbsolute(path)) return "is not an absolute path";
  try {
    if (!statSync(path).isFile()) return "is not a file";
    accessSync(path, constants.X_OK);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "is not executable";
  }
  return null;
}

/** Parse one side; throws an Error whose message is the one line to print (exit 2). */
export function parseSide(arg: string): Side {
  if (arg === "dpdk") return { name: arg, kind: "dpdk", dir: "", keys: "", node: "" };
  const [dir, ...kv] = arg.split(":");
  if (!dir) throw new Error(`vu-shared: option --sides: '${arg}' names no worktree; use dpdk or a path, e.g. /work/main:tx_mode=indirect`);
  const seen = new Set<string>();
  const vdevKeys: string[] = [];
  let node = "";
  for (const p of kv) {
    const eq = p.indexOf("=");
    const key = eq > 0 ? p.slice(0, eq) : p;
    if (key === "node" && eq > 0 && !seen.has(key)) {
      node = p.slice(eq + 1);
      const why = nodeProblem(node);
      if (why !== null) throw new Error(`vu-shared: option --sides: node=${node} in '${arg}' ${why}; node= names the node binary for the side's l2fwd, e.g. /work/wt-n26:node=/opt/node-26/bin/node`);
      seen.add(key);
      continue;
    }
    const re = SIDE_KEYS[key];
    if (eq <= 0 || re === undefined || !re.test(p.slice(eq + 1)) || seen.has(key)) {
      throw new Error(
        `vu-shared: option --sides: '${p}' in '${arg}' is not one of ${[...Object.keys(SIDE_KEYS), "node"].join(", ")} with a valid value (once each); ` +
          "e.g. /work/main:tx_mode=indirect (tx_mode auto|chained|push|indirect)",
      );
    }
    seen.add(key);
    vdevKeys.push(p);
  }
  return { name: arg, kind: "tpdk", dir, keys: vdevKeys.join(","), node };
}

/**
 * The part of a tpdk side's name in its --keep files' names: the worktree's last folder with the
 * side's keys, characters other than [\w.+=:-] as "_" (main, main:tx_mode=indirect,
 * wt-n26:node=_opt_node-26_bin_node).
 */
export function keepStem(side: Side): string {
  const dir = side.dir.replace(/\/+$/, "");
  const last = dir.slice(dir.lastIndexOf("/") + 1);
  return (last + side.name.slice(side.dir.length)).replace(/[^\w.+=:-]/g, "_");
}

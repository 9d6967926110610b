/**
 * vu-shared.js's --sides: "dpdk", or a tpdk worktree with optional extra vdev keys for its
 * front-end after colons, e.g. /work/main:tx_mode=indirect (one worktree, several port
 * configurations, in one batch). Only keys the common front-end keys (commands.ts
 * FRONT_END_KEYS) do not set, with values checked here, so a typo fails before any run.
 */

export interface Side {
  /** The name the runs are reported under (the argument as given). */
  readonly name: string;
  readonly kind: "dpdk" | "tpdk";
  /** The worktree (tpdk). */
  readonly dir: string;
  /** Extra vdev keys for the tpdk front-end, comma-joined ("" = none). */
  readonly keys: string;
}

/** Extra keys a side may set, and what each takes (virtio-pmd's devargs, packages/virtio-pmd/README.md). */
const SIDE_KEYS: Readonly<Record<string, RegExp>> = {
  tx_mode: /^(auto|chained|push|indirect)$/,
  indirect: /^[01]$/,
  event_idx: /^[01]$/,
  mrg_rxbuf: /^[01]$/,
  queue_size: /^[1-9][0-9]{0,4}$/,
};

/** Parse one side; throws an Error whose message is the one line to print (exit 2). */
export function parseSide(arg: string): Side {
  if (arg === "dpdk") return { name: arg, kind: "dpdk", dir: "", keys: "" };
  const [dir, ...kv] = arg.split(":");
  if (!dir) throw new Error(`vu-shared: option --sides: '${arg}' names no worktree; use dpdk or a path, e.g. /work/main:tx_mode=indirect`);
  const seen = new Set<string>();
  for (const p of kv) {
    const eq = p.indexOf("=");
    const key = eq > 0 ? p.slice(0, eq) : p;
    const re = SIDE_KEYS[key];
    if (eq <= 0 || re === undefined || !re.test(p.slice(eq + 1)) || seen.has(key)) {
      throw new Error(
        `vu-shared: option --sides: '${p}' in '${arg}' is not one of ${Object.keys(SIDE_KEYS).join(", ")} with a valid value (once each); ` +
          "e.g. /work/main:tx_mode=indirect (tx_mode auto|chained|push|indirect)",
      );
    }
    seen.add(key);
  }
  return { name: arg, kind: "tpdk", dir, keys: kv.join(",") };
}

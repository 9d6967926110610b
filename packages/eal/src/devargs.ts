import { UsageError } from "./errors.js";

/**
 * A parsed `--vdev` string (DPDK devargs): a device name ending in its index,
 * then comma-separated key=value pairs. Commas only separate pairs, so a list
 * value uses ':' ("size=64:512:1518").
 */
export interface Devargs {
  /** Full device name, e.g. "virtio0". */
  readonly name: string;
  /** Name without the trailing index, e.g. "virtio": selects the driver. */
  readonly driver: string;
  /** The trailing index, e.g. 0. */
  readonly index: number;
  /** Keys in the order given. Read them with the take* helpers, then call assertNoUnknownKeys. */
  readonly args: Map<string, string>;
}

/**
 * Side table per args map: the vdev name for messages and the keys some
 * consumer has asked for (so unknown keys can be reported with the known ones).
 * Kept outside the Map so `args` stays a plain Map.
 */
interface Meta {
  vdev: string;
  known: Set<string>;
}
const meta = new WeakMap<Map<string, string>, Meta>();

function metaOf(args: Map<string, string>): Meta {
  let m = meta.get(args);
  if (!m) {
    m = { vdev: "devargs", known: new Set() };
    meta.set(args, m);
  }
  return m;
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDevargs(text: string): Devargs {
  if (typeof text !== "string" || text.trim() === "") {
    throw new UsageError(`--vdev: empty device string; use e.g. --vdev virtio0,wire=gen`);
  }
  const parts = text.split(",");
  const name = parts[0]!.trim();
  const m = /^([A-Za-z][A-Za-z0-9_]*?)(\d+)$/.exec(name);
  if (!m) {
    throw new UsageError(`--vdev "${text}": device name "${name}" must be letters then an index, e.g. virtio0`);
  }
  const driver = m[1]!;
  const index = Number(m[2]);
  const args = new Map<string, string>();
  meta.set(args, { vdev: name, known: new Set() });
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf("=");
    if (eq < 0) {
      throw new UsageError(
        `${name}: "${part}" is not key=value; separate pairs with ',' and list items with ':', e.g. size=64:512:1518`,
      );
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "") throw new UsageError(`${name}: empty key in "${part}"; write key=value`);
    if (!KEY_RE.test(key)) throw new UsageError(`${name}: bad key '${key}'; keys are letters, digits and _`);
    if (value === "") throw new UsageError(`${name}: key '${key}' has an empty value; write ${key}=VALUE or leave it out`);
    if (args.has(key)) throw new UsageError(`${name}: duplicate key '${key}'; give each key once`);
    args.set(key, value);
  }
  return { name, driver, index, args };
}

/** The vdev name devargs were parsed from ("devargs" for a hand-made Map). */
export function devargsName(args: Map<string, string>): string {
  return metaOf(args).vdev;
}

/** Mark `key` as understood and return its raw value (undefined if absent). */
function take(args: Map<string, string>, key: string): string | undefined {
  metaOf(args).known.add(key);
  return args.get(key);
}

function missing(args: Map<string, string>, key: string): UsageError {
  return new UsageError(`${devargsName(args)}: missing required key '${key}'`);
}

export interface IntOpts {
  min?: number;
  max?: number;
  /** Value when the key is absent; without it the key is required. */
  default?: number;
}

function parseIntValue(args: Map<string, string>, key: string, v: string, o: IntOpts, shown = `${key}=${v}`): number {
  // Decimal or 0x hex; no signs, no fractions, no exponents.
  if (!/^(\d+|0[xX][0-9a-fA-F]+)$/.test(v)) {
    throw new UsageError(`${devargsName(args)}: ${shown} is not a whole number`);
  }
  const n = Number(v);
  const min = o.min ?? 0;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${devargsName(args)}: ${shown} is out of range ${min}..${max}`);
  }
  return n;
}

/** An integer key (decimal or 0x hex) within [min, max] (defaults 0 .. MAX_SAFE_INTEGER). */
export function takeInt(args: Map<string, string>, key: string, opts: IntOpts = {}): number {
  const v = take(args, key);
  if (v === undefined) {
    if (opts.default === undefined) throw missing(args, key);
    return opts.default;
  }
  return parseIntValue(args, key, v, opts);
}

/** A 0|1 flag. */
export function takeBool(args: Map<string, string>, key: string, opts: { default?: boolean } = {}): boolean {
  const v = take(args, key);
  if (v === undefined) {
    if (opts.default === undefined) throw missing(args, key);
    return opts.default;
  }
  if (v === "1") return true;
  if (v === "0") return false;
  throw new UsageError(`${devargsName(args)}: ${key}=${v} must be 0 or 1`);
}

/** A string key, optionally restricted to `choices`. */
export function takeString(
  args: Map<string, string>,
  key: string,
  opts: { default?: string; choices?: readonly string[] } = {},
): string {
  const v = take(args, key);
  if (v === undefined) {
    if (opts.default === undefined) throw missing(args, key);
    return opts.default;
  }
  if (opts.choices && !opts.choices.includes(v)) {
    throw new UsageError(`${devargsName(args)}: ${key}=${v} is not one of ${opts.choices.join(", ")}`);
  }
  return v;
}

/** A MAC address "aa:bb:cc:dd:ee:ff" (or '-' separated) as 6 bytes. */
export function takeMac(args: Map<string, string>, key: string, opts: { default?: Uint8Array } = {}): Uint8Array {
  const v = take(args, key);
  if (v === undefined) {
    if (opts.default === undefined) throw missing(args, key);
    return Uint8Array.from(opts.default);
  }
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(v)) {
    throw new UsageError(`${devargsName(args)}: ${key}=${v} is not a MAC address; use e.g. ${key}=02:00:00:00:00:01`);
  }
  return Uint8Array.from(v.split(/[:-]/), (h) => parseInt(h, 16));
}

/** A ':'-separated list of non-empty strings ("a:b:c"). */
export function takeList(args: Map<string, string>, key: string, opts: { default?: readonly string[] } = {}): string[] {
  const v = take(args, key);
  if (v === undefined) {
    if (opts.default === undefined) throw missing(args, key);
    return [...opts.default];
  }
  const items = v.split(":");
  if (items.some((s) => s === "")) {
    throw new UsageError(`${devargsName(args)}: ${key}=${v} has an empty list item; separate items with one ':'`);
  }
  return items;
}

/** A ':'-separated list of integers, each within [min, max]. */
export function takeIntList(
  args: Map<string, string>,
  key: string,
  opts: { min?: number; max?: number; default?: readonly number[] } = {},
): number[] {
  if (!args.has(key)) {
    take(args, key);
    if (opts.default === undefined) throw missing(args, key);
    return [...opts.default];
  }
  const items = takeList(args, key);
  const o: IntOpts = {};
  if (opts.min !== undefined) o.min = opts.min;
  if (opts.max !== undefined) o.max = opts.max;
  return items.map((s) => parseIntValue(args, key, s, o, `${key} item ${s}`));
}

/**
 * Call after every consumer has taken its keys: reports the first key nobody
 * asked for, with the list of keys that are understood.
 */
export function assertNoUnknownKeys(args: Map<string, string>, vdevName = devargsName(args)): void {
  const { known } = metaOf(args);
  for (const key of args.keys()) {
    if (!known.has(key)) {
      const list = [...known].sort().join(", ") || "(none)";
      throw new UsageError(`${vdevName}: unknown key '${key}'; known keys: ${list}`);
    }
  }
}

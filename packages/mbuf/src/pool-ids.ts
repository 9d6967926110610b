import { TpdkError, type Memory } from "@tpdk/eal";

/**
 * The pool-id table: a tiny zone mapping small pool ids (the u16 stored in
 * every mbuf) to the byte offset of the pool's zone, so any thread can turn
 * an mbuf's pool id into its pool (rte_mbuf carries a pointer instead).
 *
 *   u32[0]        last id handed out (ids start at 1; 0 means "no pool")
 *   u32[1 + id]   zone offset of pool `id`, 0 until the pool is fully built
 */
export const POOL_IDS_ZONE = "tpdk_mempool_ids";
export const MEMPOOL_ID_MAX = 255;
const TABLE_BYTES = 4 * (MEMPOOL_ID_MAX + 2);

function table(mem: Memory, create: boolean): number {
  const z = mem.lookup(POOL_IDS_ZONE);
  if (z) return z.offset;
  if (!create) return 0;
  try {
    return mem.reserve(POOL_IDS_ZONE, TABLE_BYTES).offset;
  } catch (e) {
    // Another thread created it between our lookup and reserve.
    if (e instanceof TpdkError && e.code === "EEXIST") return mem.zone(POOL_IDS_ZONE).offset;
    throw e;
  }
}

/** Hand out the next pool id (cold). Throws ENOSPC after MEMPOOL_ID_MAX pools. */
export function allocPoolId(mem: Memory): number {
  const t = table(mem, true);
  const id = Atomics.add(mem.u32, t >>> 2, 1) + 1;
  if (id > MEMPOOL_ID_MAX) throw new TpdkError("ENOSPC", `too many mempools (max ${MEMPOOL_ID_MAX})`);
  return id;
}

/** Make pool `id` resolvable; call once the pool zone is fully initialised. */
export function publishPoolId(mem: Memory, id: number, zoneOffset: number): void {
  const t = table(mem, true);
  // Pairs with the Atomics.load in poolOffsetById: a thread that sees the
  // offset sees the initialised pool header, ring and mbufs.
  Atomics.store(mem.u32, (t >>> 2) + 1 + id, zoneOffset);
}

/** Zone offset of pool `id`, or 0 when there is no such pool. */
export function poolOffsetById(mem: Memory, id: number): number {
  if (!Number.isInteger(id) || id < 1 || id > MEMPOOL_ID_MAX) return 0;
  const t = table(mem, false);
  return t === 0 ? 0 : Atomics.load(mem.u32, (t >>> 2) + 1 + id);
}

/** The last pool id handed out (ids 1..it may exist; a pool still being built reads offset 0), 0 when none. */
export function lastPoolId(mem: Memory): number {
  const t = table(mem, false);
  return t === 0 ? 0 : Math.min(Atomics.load(mem.u32, t >>> 2), MEMPOOL_ID_MAX);
}

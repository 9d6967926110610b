/**
 * The calling thread's lcore id (rte_lcore_id). Each lcore worker sets it once
 * at start; the main thread and service threads (the device) are LCORE_ID_ANY,
 * which means "no per-lcore cache": mempools go straight to their shared ring.
 */
export const MAX_LCORE = 64;
export const LCORE_ID_ANY = 0xffffffff;

let current = LCORE_ID_ANY;

export function lcoreId(): number {
  return current;
}

/** Set by the lcore runtime when a worker starts; not for applications. */
export function setLcoreId(id: number): void {
  current = id;
}

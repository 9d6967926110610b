import type { Memory } from "@tpdk/eal";
import { PMD_MAX_QUEUES, P_RXQ_ZONES, P_TXQ_ZONES, PORT_TABLE_ZONE, QF_PACKED, Q_FLAGS, portEntry } from "./layout.js";

/** True when the queue's zone says packed ring (QF_PACKED); false when split or not set up (cold). */
export function isPackedQueue(mem: Memory, port: number, queue: number, tx: boolean): boolean {
  const t = mem.lookup(PORT_TABLE_ZONE);
  if (!t || queue < 0 || queue >= PMD_MAX_QUEUES) return false;
  const zone = mem.u32[(portEntry(t.offset, port) + (tx ? P_TXQ_ZONES : P_RXQ_ZONES) + 4 * queue) >>> 2]!;
  return zone !== 0 && (mem.u32[(zone + Q_FLAGS) >>> 2]! & QF_PACKED) !== 0;
}


import type { Memory } from "@tpdk/eal";
import { availEventOffset } from "@tpdk/virtio";
import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import { kickFdIndex, notifyDevice } from "./notify-device.js";
import { packedRangeAsks } from "./packed-queue.js";
import { needEvent } from "./queue-base.js";

const { AVAIL_IDX, USED_FLAGS, VRING_USED_F_NO_NOTIFY } = V;
const {
  PMD_MAX_QUEUES, PORT_FREE, PORT_TABLE_ZONE, P_NB_TXQ, P_STATE, P_TXQ_ZONES, QF_EVENT_IDX, QF_PACKED, Q_AVAIL, Q_DOORBELL,
  Q_FENCED_AVAIL, Q_FLAGS, Q_NOTIFY, Q_PACKED_FENCED, Q_PACKED_PUBLISHED, Q_RUN, Q_RUN_RETIRED, Q_SIZE, Q_USED,
} = L;
let tableMem: Memory | null = null;
let tableAt = 0;

/**
 * The main thread's backstop for the TX queues' deferred kick check (split: QueueBase.publishTx,
 * packed: PackedTxQueue.publish; on x86 the lcore publishes with a plain store and checks the
 * device's notification suppression behind a full barrier only every TX_FENCE_FRAMES frames or at
 * txFence()). For each running split TX queue of `port` whose avail.idx has moved past the index
 * the lcore last fenced (Q_FENCED_AVAIL), it reads avail_event / used.flags and kicks when the
 * device asks for a kick over that range. A packed ring has no avail index to read: the lcore
 * leaves its published position (Q_PACKED_PUBLISHED, stored after the head's flags) next to the
 * fenced one (Q_PACKED_FENCED), and the device event suppression structure is read over the
 * range between them (§2.8.10). Why it is enough: a device that re-enabled notifications and then
 * read the old avail.idx / head flags (it sleeps) did so before the lcore's store became visible;
 * once this thread sees that store (packed: the published word, stored after the flags: x86-TSO
 * makes stores visible in order), its later load (x86 keeps loads in order; Atomics.load
 * elsewhere) sees the device's field. A spurious kick is harmless (the device polls once more).
 * For applications that never call txFence (l2fwd's watchdog calls it every 50 / 500 ms). Cold;
 * returns the kicks made.
 */
export function txKickBackstop(mem: Memory, port: number): number {
  // The table's offset, looked up once per memory (a lookup makes a Zone object; the watchdog allocates nothing).
  if (tableMem !== mem) {
    const zone = mem.lookup(PORT_TABLE_ZONE);
    if (zone === undefined) return 0;
    tableMem = mem;
    tableAt = zone.offset;
  }
  if (port < 0 || port >= L.PMD_MAX_PORTS) return 0;
  const u16 = mem.u16;
  const u32 = mem.u32;
  const i32 = mem.i32;
  const e = L.portEntry(tableAt, port);
  if (Atomics.load(u32, (e + P_STATE) >>> 2) === PORT_FREE) return 0;
  const nq = Math.min(u32[(e + P_NB_TXQ) >>> 2]!, PMD_MAX_QUEUES);
  let kicks = 0;
  for (let q = 0; q < nq; q++) {
    const z = u32[(e + P_TXQ_ZONES + 4 * q) >>> 2]!;
    if (z === 0) continue;
    const w = z >>> 2;
    const run = Atomics.load(u32, w + (Q_RUN >>> 2));
    if (run === 0 || run === Q_RUN_RETIRED) continue;
    const flags = u32[w + (Q_FLAGS >>> 2)]!;
    const used = u32[w + (Q_USED >>> 2)]!;
    let kick: boolean;
    if ((flags & QF_PACKED) !== 0) {
      // Published first: what it covers is visible, so the event structure read after it is current.
      const at = Atomics.load(u32, w + (Q_PACKED_PUBLISHED >>> 2));
      const from = Atomics.load(u32, w + (Q_PACKED_FENCED >>> 2));
      if (at === from) continue;
      const size = u32[w + (Q_SIZE >>> 2)]!;
      // Descriptors from `from` to `at` (the lcore keeps an unfenced range below the ring size);
      // anything else (words of another run, a fenced check between the two loads) counts as a
      // whole ring: a kick if the device wants any.
      let n = (at & 0x7fff) - (from & 0x7fff) + (at >>> 15 !== from >>> 15 ? size : 0);
      if (n <= 0 || n >= size) n = size;
      const evH = used >>> 1; // Q_USED: the device event suppression structure (off_wrap, flags)
      const f = Atomics.load(u16, evH + 1);
      kick = packedRangeAsks(f, Atomics.load(u16, evH), (flags & QF_EVENT_IDX) !== 0, from, n, size);
    } else {
      const avail = u32[w + (Q_AVAIL >>> 2)]!;
      const idx = Atomics.load(u16, (avail + AVAIL_IDX) >>> 1);
      const from = Atomics.load(u32, w + (Q_FENCED_AVAIL >>> 2)) & 0xffff;
      if (idx === from) continue;
      if ((flags & QF_EVENT_IDX) !== 0) {
        const ev = Atomics.load(u16, (used + availEventOffset(u32[w + (Q_SIZE >>> 2)]!)) >>> 1);
        kick = needEvent(idx, ev, (idx - from) & 0xffff);
      } else {
        kick = (Atomics.load(u16, (used + USED_FLAGS) >>> 1) & VRING_USED_F_NO_NOTIFY) === 0;
      }
    }
    if (!kick) continue;
    // QueueBase.kick's notification, from this thread (not counted in the lcore's S_KICKS).
    notifyDevice(i32, u32[w + (Q_NOTIFY >>> 2)]! >>> 2, kickFdIndex(u32, w), u32[w + (Q_DOORBELL >>> 2)]! >>> 2, 1);
    kicks++;
  }
  return kicks;
}

import { type Memory, setLcoreId } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import type { MicroCase } from "./harness.js";

/**
 * The push path's virtio-net header: 12 zero bytes written into each mbuf's
 * headroom. DPDK skips the stores where the bytes are already zero (the
 * usual case: the headroom is zero when the buffer is reused). Per burst of
 * 32 real mbuf headrooms (4-byte aligned): the byte-wise skip loop (12 loads
 * and compares, no store), the same check on 3 u32 words, 12 byte stores,
 * 3 u32 stores, and TypedArray.fill.
 */
export function headerCases(mem: Memory): MicroCase[] {
  setLcoreId(0);
  const pool = Mempool.create(mem, "micro_hdr", { n: 1024, cacheSize: 256 });
  const mb = new Mbufs(mem);
  const ms = new Uint32Array(32);
  pool.allocBulk(ms, 32);
  const hdrAddr = Int32Array.from(ms, (m) => mb.dataAddr(m) - 12);
  for (const h of hdrAddr) mem.u8.fill(0, h, h + 12);
  const u8 = mem.u8;
  const u32 = mem.u32;
  const n = hdrAddr.length;
  const mk = (name: string, body: (reps: number) => void): MicroCase => ({ group: "push-path header (32 mbufs)", name, objects: n, reps: 256, run: body });
  return [
    mk("skip when zero (load+compare)", (reps) => {
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < n; k++) {
          const h = hdrAddr[k]!;
          for (let i = 0; i < 12; i++) if (u8[h + i] !== 0) u8[h + i] = 0;
        }
      }
    }),
    mk("skip when zero (3 x u32 loads, OR)", (reps) => {
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < n; k++) {
          const w = hdrAddr[k]! >>> 2;
          if ((u32[w]! | u32[w + 1]! | u32[w + 2]!) !== 0) {
            u32[w] = 0;
            u32[w + 1] = 0;
            u32[w + 2] = 0;
          }
        }
      }
    }),
    mk("write 12 bytes", (reps) => {
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < n; k++) {
          const h = hdrAddr[k]!;
          for (let i = 0; i < 12; i++) u8[h + i] = 0;
        }
      }
    }),
    mk("write 3 x u32", (reps) => {
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < n; k++) {
          const w = hdrAddr[k]! >>> 2;
          u32[w] = 0;
          u32[w + 1] = 0;
          u32[w + 2] = 0;
        }
      }
    }),
    mk("u8.fill(0, h, h + 12)", (reps) => {
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < n; k++) {
          const h = hdrAddr[k]!;
          u8.fill(0, h, h + 12);
        }
      }
    }),
  ];
}

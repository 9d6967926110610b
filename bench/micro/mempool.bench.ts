import { LCORE_ID_ANY, setLcoreId, type Memory } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import type { MicroCase } from "./harness.js";

/**
 * Mempool get/put on one thread: single objects vs bulk, with the lcore
 * cache (lcore 0) and without it (LCORE_ID_ANY: every call goes to the MP/MC
 * ring). Also the packet-level alloc/free pair, which adds the reset and
 * the refcnt/chain handling of rte_pktmbuf_free.
 */
export function mempoolCases(mem: Memory): MicroCase[] {
  const pool = Mempool.create(mem, "bench", { n: 8192, cacheSize: 256 });
  const mb = new Mbufs(mem);
  const objs = new Uint32Array(256);
  const cases: MicroCase[] = [];
  const where: Array<[string, number]> = [
    ["cache (lcore 0)", 0],
    ["ring (LCORE_ID_ANY)", LCORE_ID_ANY],
  ];
  const check = () => {
    if (pool.inUse() !== 0) throw new Error(`mempool leaked ${pool.inUse()} objects`);
  };
  for (const [label, lcore] of where) {
    const group = `mempool ${label}`;
    const setup = () => setLcoreId(lcore);
    cases.push({
      group,
      name: "get()+put()",
      objects: 1,
      reps: 4096,
      setup,
      run(reps) {
        for (let r = 0; r < reps; r++) pool.put(pool.get());
        check();
      },
    });
    for (const b of [8, 32, 128]) {
      cases.push({
        group,
        name: `getBulk+putBulk ${b}`,
        objects: b,
        reps: Math.max(256, 8192 / b),
        setup,
        run(reps) {
          for (let r = 0; r < reps; r++) {
            pool.getBulk(objs, b);
            pool.putBulk(objs, b);
          }
          check();
        },
      });
    }
    cases.push({
      group,
      name: "alloc()+free()",
      objects: 1,
      reps: 4096,
      setup,
      run(reps) {
        for (let r = 0; r < reps; r++) mb.free(pool.alloc());
        check();
      },
    });
    cases.push({
      group,
      name: "allocBulk+freeBulk 32",
      objects: 32,
      reps: 512,
      setup,
      run(reps) {
        for (let r = 0; r < reps; r++) {
          pool.allocBulk(objs, 32);
          mb.freeBulk(objs, 32);
        }
        check();
      },
    });
  }
  return cases;
}

import type { Memory } from "@tpdk/eal";
import type { MicroCase } from "./harness.js";
import { type PmdRig, pmdRig } from "./pmd-rig.js";

/**
 * virtio-pmd data path on one thread against a fake device (pmd-rig.ts):
 *
 *  - TX, per path (chained / push / indirect, forced with tx_mode) and
 *    IN_ORDER on/off: one operation = take B ready mbufs from the pool (raw
 *    getBulk: no reset), txBurst them (descriptor building, stats, publish;
 *    every ~32 packets the reclaim that frees used mbufs in bulk), and the
 *    fake device returning the chains (one used entry each; one per batch in
 *    order). The "mbufs only" row is the pool part alone.
 *  - RX with refill, IN_ORDER and MRG_RXBUF on/off: the fake device marks B
 *    posted buffers used (60-byte frames), rxBurst takes them and refills
 *    the ring (bulk alloc, one descriptor each, one publish), the app frees
 *    them in bulk.
 */
const BURSTS = [1, 8, 32];
const QUEUE = 1024;

export function pmdCases(mem: Memory): MicroCase[] {
  const cases: MicroCase[] = [];
  const rigs = new Map<string, PmdRig>();
  let nextPort = 0;
  const rig = (key: string, make: (port: number) => PmdRig): PmdRig => {
    let r = rigs.get(key);
    if (!r) {
      r = make(nextPort++);
      rigs.set(key, r);
    }
    return r;
  };
  const objs = new Uint32Array(64);

  for (const inOrder of [false, true]) {
    for (const mode of ["chained", "push", "indirect"] as const) {
      const key = `tx ${mode} ${inOrder}`;
      const get = () => rig(key, (p) => pmdRig(mem, p, { txMode: mode, inOrder, mrgRxbuf: true, queueSize: QUEUE }));
      for (const b of BURSTS) {
        let r: PmdRig;
        cases.push({
          group: `virtio-pmd TX, in_order=${+inOrder}`,
          name: `txBurst ${mode} ${b}`,
          objects: b,
          reps: Math.max(64, 4096 / b),
          setup: () => {
            r = get();
          },
          run(reps) {
            const { pool, txq } = r;
            for (let i = 0; i < reps; i++) {
              if (pool.getBulk(objs, b) === 0) throw new Error("pool empty");
              const k = txq.txBurst(objs, b);
              if (k !== b) throw new Error(`txBurst took ${k} of ${b}`);
              r.completeTx();
            }
          },
        });
      }
    }
  }
  for (const b of BURSTS) {
    let r: PmdRig;
    cases.push({
      group: "virtio-pmd TX, in_order=1",
      name: `mbufs only ${b} (getBulk + freeBulk)`,
      objects: b,
      reps: Math.max(64, 4096 / b),
      setup: () => {
        r = rig("tx push true", (p) => pmdRig(mem, p, { txMode: "push", inOrder: true, mrgRxbuf: true, queueSize: QUEUE }));
      },
      run(reps) {
        for (let i = 0; i < reps; i++) {
          r.pool.getBulk(objs, b);
          r.mbufs.freeBulk(objs, b);
        }
      },
    });
  }

  for (const inOrder of [false, true]) {
    for (const mrg of [false, true]) {
      const key = `rx ${inOrder} ${mrg}`;
      const get = () => rig(key, (p) => pmdRig(mem, p, { txMode: "auto", inOrder, mrgRxbuf: mrg, queueSize: QUEUE }));
      for (const b of BURSTS) {
        let r: PmdRig;
        cases.push({
          group: `virtio-pmd RX + refill, in_order=${+inOrder} mrg_rxbuf=${+mrg}`,
          name: `rxBurst ${b} + freeBulk`,
          objects: b,
          reps: Math.max(64, 4096 / b),
          setup: () => {
            r = get();
          },
          run(reps) {
            const { rxq, mbufs } = r;
            for (let i = 0; i < reps; i++) {
              r.deliverRx(b);
              const n = rxq.rxBurst(objs, b);
              if (n !== b) throw new Error(`rxBurst returned ${n} of ${b}`);
              mbufs.freeBulk(objs, n);
            }
          },
        });
      }
    }
  }
  return cases;
}

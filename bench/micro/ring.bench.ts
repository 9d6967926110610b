import { Memory } from "@tpdk/eal";
import { Ring, type RingOptions } from "@tpdk/ring";
import type { MicroCase } from "./harness.js";

export const RING_BURSTS = [1, 2, 4, 8, 16, 32, 64];

/**
 * Ring round trips on one thread (uncontended, cache-hot): enqueue a burst,
 * dequeue it again. Measures the per-call cost of the index protocol (cached
 * tails and plain head writes for SP/SC; Atomics loads, a CAS and the
 * tail wait for MP/MC) plus the slot copies.
 */
export function ringCases(mem: Memory): MicroCase[] {
  const cases: MicroCase[] = [];
  const modes: Array<[string, RingOptions]> = [
    ["SP/SC", { sp: true, sc: true }],
    ["MP/MC", {}],
  ];
  let n = 0;
  for (const [label, opts] of modes) {
    const ring = Ring.create(mem, `bench-ring-${n++}`, 1024, opts);
    const buf = new Uint32Array(64);
    for (let i = 0; i < 64; i++) buf[i] = i * 64 + 4096;
    cases.push({
      group: `ring ${label}`,
      name: "enqueue()+dequeue()",
      objects: 1,
      reps: 4096,
      run(reps) {
        let bad = 0;
        for (let r = 0; r < reps; r++) {
          if (!ring.enqueue(r)) bad++;
          if (ring.dequeue() !== r) bad++;
        }
        if (bad !== 0) throw new Error("ring lost values");
      },
    });
    for (const b of RING_BURSTS) {
      cases.push({
        group: `ring ${label}`,
        name: `burst ${b} enq+deq`,
        objects: b,
        reps: Math.max(256, 8192 / b),
        run(reps) {
          let moved = 0;
          for (let r = 0; r < reps; r++) {
            moved += ring.enqueueBurst(buf, b);
            moved -= ring.dequeueBurst(buf, b);
          }
          if (moved !== 0) throw new Error("ring lost values");
        },
      });
    }
  }
  return cases;
}

import type { Eal } from "@tpdk/eal";
import type { Mempool } from "@tpdk/mbuf";
import type { VdevPorts } from "@tpdk/vdev";
import type { LcoreArg } from "./lcore-loop.js";

/**
 * JIT warm-up: before the application's ports start, every forwarding lcore
 * runs the forwarding loop over a pair of private built-in ports, each fed by
 * an unpaced generator (`frames` frames, flow-controlled: nothing is missed),
 * so that V8 has optimized the loop, rxBurst/txBurst, the mempool and the
 * device thread's RX/TX paths before the first real frame.
 *
 * Why: DPDK's l2fwd is compiled; its first poll runs at full speed. Here the
 * first ~100 ms of traffic (measured with --trace-opt: rxBurst, refillRing,
 * txBurst, processRx, freeBulk are optimized only then) run interpreted or
 * baseline code at a fraction of the steady-state rate, and a paced
 * generator of 2 Mpps against a 1024-entry ring (0.5 ms) misses most of
 * those frames (~125,000 in `pnpm demo`). With 100,000 frames per generator
 * those functions are optimized before the warm-up ends, so the first real
 * frame meets optimized code. The cost is the warm-up's time (2 x frames per
 * lcore, at the cold and then the warm rate), hence off by default.
 *
 * The private ports are the last port ids (after the user's), never enabled
 * by -p, stopped after the warm-up; their counters are not printed.
 */

/** The warm-up ports' ring size: small (the code is the same for any size), so they hold few mbufs. */
export const WARMUP_QUEUE_SIZE = 256;
/** A warm-up that has not finished by then is cut short (a starved machine): the app goes on. */
const WARMUP_MAX_MS = 10_000;

/** The --vdev strings of the warm-up ports for `lcores` lcores, numbered after `firstId`. */
export function warmupVdevs(firstId: number, lcores: number, frames: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < 2 * lcores; k++) {
    out.push(`virtio${firstId + k},wire=gen,count=${frames},queue_size=${WARMUP_QUEUE_SIZE}`);
  }
  return out;
}

/**
 * Run the warm-up (cold; main thread): ports firstPort.. (2 per lcore, lcore
 * k polls ports firstPort+2k and +2k+1, each forwarding to the other), until
 * every generator has offered all its frames and its lcore has received
 * them, or WARMUP_MAX_MS. The lcores have returned and the ports are stopped when it
 * resolves.
 */
export async function warmUp(
  eal: Eal,
  bus: VdevPorts,
  pool: Mempool,
  lcoreLoop: URL,
  o: { lcores: readonly number[]; firstPort: number; frames: number; burst: number; statsOffset: number },
): Promise<void> {
  const ports = bus.ports.slice(o.firstPort, o.firstPort + 2 * o.lcores.length);
  const macs: number[][] = [];
  const dst: number[] = [];
  for (const p of bus.ports) macs[p.portId] = [...p.macAddr()];
  for (const p of ports) {
    p.configure(1, 1);
    p.rxQueueSetup(0, { pool });
    p.txQueueSetup(0);
    dst[p.portId] = (p.portId - o.firstPort) % 2 === 0 ? p.portId + 1 : p.portId - 1;
  }
  for (const p of ports) p.start();
  const slot = new Map(o.lcores.map((l, k) => [l, k]));
  await eal.launch(lcoreLoop, "l2fwdLoop", (lcore): LcoreArg => {
    const k = slot.get(lcore);
    return {
      rxPorts: k === undefined ? [] : [o.firstPort + 2 * k, o.firstPort + 2 * k + 1],
      dst,
      macs,
      macUpdating: true,
      burst: o.burst,
      statsOffset: o.statsOffset,
      drainPasses: 32,
    };
  });
  const devices = ports.map((p) => bus.devices[p.portId]!);
  const end = performance.now() + WARMUP_MAX_MS;
  // Done when every generator has offered all its frames and the lcore has received them
  // (what it sent on is drained by the ports' stop; a full TX ring may have dropped some).
  const done = (): boolean => ports.every((p, i) => devices[i]!.wireStats().generated === o.frames && p.stats().ipackets === o.frames);
  while (!done() && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  eal.stop();
  await eal.wait();
  for (const p of ports) p.stop();
}

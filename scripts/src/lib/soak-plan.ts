/**
 * What each soak phase runs. Phases rotate the TX path (tx_mode) across the
 * port pairs, the queue sizes, the frame size lists, the driver features
 * (MRG_RXBUF, IN_ORDER, EVENT_IDX), the burst and the lcore count, so every
 * combination that matters comes around within a few phases, and several TX
 * paths run at once in every phase.
 */
export interface PhasePlan {
  index: number;
  /** One --vdev string per port; ports 2k and 2k+1 are paired. */
  vdevs: string[];
  lcores: number[];
  burst: number;
  /** Frames each generator offers (its count=). */
  count: number;
  /** What changes from phase to phase, for the report. */
  describe: string;
}

export interface SoakPlanOptions {
  /** Port pairs (default 3: one per TX mode). */
  pairs: number;
  /** Packets per second per generator. */
  rate: number;
  /** Seconds of traffic per phase. */
  trafficSeconds: number;
  seed: number;
}

const TX_MODES = ["chained", "push", "indirect"] as const;
const QUEUE_SIZES = [256, 64, 1024, 4096, 128, 512];
// Ethernet sizes with FCS (WIRES.md): 64 -> 60-byte frames. Drawn per frame from the seed.
const SIZE_LISTS = ["64:128:256:512:1024:1518", "64", "1518:64:600", "64:65:127:128:255:256:511:512:1023:1024:1517:1518", "1518"];
const BURSTS = [32, 8, 32, 64, 4, 32];

export function phasePlan(i: number, o: SoakPlanOptions): PhasePlan {
  const count = Math.max(1, Math.round(o.rate * o.trafficSeconds));
  const vdevs: string[] = [];
  const modes: string[] = [];
  for (let k = 0; k < o.pairs; k++) {
    const mode = TX_MODES[(i + k) % TX_MODES.length]!;
    const qs = QUEUE_SIZES[(i + 2 * k) % QUEUE_SIZES.length]!;
    const mrg = (i + k) % 2;
    const inOrder = ((i >> 1) + k) % 2;
    const eventIdx = (i + k + 1) % 3 === 0 ? 0 : 1;
    const sizes = SIZE_LISTS[(i + k) % SIZE_LISTS.length]!;
    modes.push(`${mode}/q${qs}${mrg ? "/mrg" : ""}${inOrder ? "/inorder" : ""}${eventIdx ? "/evidx" : ""}`);
    for (let side = 0; side < 2; side++) {
      const port = 2 * k + side;
      const seed = (o.seed + 7919 * i + 104729 * port) >>> 0;
      vdevs.push(
        `virtio${port},wire=gen,rate=${o.rate},count=${count},size=${sizes},seed=${seed},flows=${1 + (port % 4)},check=1` +
          `,tx_mode=${mode},queue_size=${qs},mrg_rxbuf=${mrg},in_order=${inOrder},event_idx=${eventIdx}`,
      );
    }
  }
  const lcores = i % 3 === 2 ? [0, 1] : [0];
  const burst = BURSTS[i % BURSTS.length]!;
  return {
    index: i,
    vdevs,
    lcores,
    burst,
    count,
    describe: `pairs ${modes.join(", ")}; burst ${burst}; ${lcores.length} lcore(s)`,
  };
}

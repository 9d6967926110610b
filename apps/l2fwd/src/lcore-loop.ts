import { type LcoreContext, stopRequested } from "@tpdk/eal";
import { Mbufs, Mempool } from "@tpdk/mbuf";
import { registerNetVhostQueues } from "@tpdk/vhost-user";
import { bindThreadMemory, rxBurst, txBurst, txFence } from "@tpdk/virtio-pmd";
import { STAT_DROPPED, STAT_RX, STAT_TX, statIndex } from "./stats.js";
import { stallThread, testLcoreStallMs } from "./faults.js";

/** What main() hands each lcore (structured-cloned). */
export interface LcoreArg {
  /** Ports whose RX queue 0 this lcore polls. */
  readonly rxPorts: number[];
  /** dst[p]: the port frames received on p leave by (covers every enabled port). */
  readonly dst: number[];
  /** macs[p]: port p's MAC, 6 bytes. */
  readonly macs: number[][];
  readonly macUpdating: boolean;
  readonly burst: number;
  readonly statsOffset: number;
  /**
   * Every TX buffer is flushed at least every this many busy passes (and after
   * any pass that found no input): DPDK's BURST_TX_DRAIN_US = 100, in passes.
   */
  readonly drainPasses: number;
  /**
   * Mempools whose lcore-cache refill and flush run once here before the loop (Mempool.warmCache):
   * the pools the RX queues this lcore polls refill from. Absent: none.
   */
  readonly primePools?: string[];
}

const MAX_PORTS = 32;
/**
 * Empty passes in a row after which the TX queues' deferred kick checks run (txFence: split and
 * packed TX fence their check once per batch on x86, QueueBase.publishTx, PackedTxQueue): the queue went idle,
 * so a device that went to sleep meanwhile gets its kick now, not when more traffic comes.
 */
const IDLE_FENCE_PASSES = 4;
/**
 * Drains, after passes that found input, during which the loop primes its rare paths (l2fwdLoop):
 * 64 steps of 2 passes at the start of traffic, far more than the ~8 calls after which V8 gives a
 * function (TxBuffers.flush, txFence) its feedback vector.
 */
const PRIME_DRAINS = 64;

/**
 * The forwarding loop (DPDK's l2fwd_main_loop): receive a burst on each of
 * this lcore's ports, rewrite the MACs, buffer each frame for its destination
 * port's TX queue, send a buffer when it fills, and drain every buffer
 * regularly (DPDK: every 100 µs; here: see drainPasses). Ownership: a frame received here is either handed to txBurst (the
 * driver frees it once the device has used it) or freed here and counted as
 * dropped. Nothing on this path allocates.
 */
export async function l2fwdLoop(ctx: LcoreContext, arg: LcoreArg): Promise<{ passes: number }> {
  const { mem, backoff } = ctx;
  bindThreadMemory(mem);
  // net_vhost ports are served by this lcore's rxBurst/txBurst too (DPDK's net_vhost: no device thread).
  registerNetVhostQueues();
  const mbufs = new Mbufs(mem);
  // The mempool cache's rare paths get type feedback now, not first in the middle of a run.
  for (const name of arg.primePools ?? []) Mempool.lookup(mem, name).warmCache();
  const u8 = mem.u8;
  const u32 = mem.u32;
  const f64 = mem.f64;
  const burst = arg.burst;
  const rxPorts = Int32Array.from(arg.rxPorts);
  const nRx = rxPorts.length;
  const dst = Int32Array.from(arg.dst);
  // The ports this lcore sends out of (its RX ports' destinations): the only
  // TX buffers it fills, so the only ones a drain visits (as DPDK's l2fwd does).
  const outPorts = Int32Array.from(new Set(arg.rxPorts.map((p) => arg.dst[p]!)));
  const nOut = outPorts.length;
  const macUpdating = arg.macUpdating;

  // Per destination port: a TX buffer (rte_eth_dev_tx_buffer) and its fill.
  const tx = new TxBuffers(mbufs, f64, burst, arg.statsOffset);
  const txBuf = tx.buf;
  const txFill = tx.fill;
  const txIdx = tx.txIdx;
  const dropIdx = tx.dropIdx;
  // Per destination port: the 12 bytes written over the Ethernet addresses.
  const macBytes = new Uint8Array(MAX_PORTS * 12);
  for (let p = 0; p < MAX_PORTS; p++) {
    const mac = arg.macs[p];
    macBytes.set([0x02, 0, 0, 0, 0, p & 0xff], p * 12);
    if (mac) macBytes.set(mac, p * 12 + 6);
  }
  // The same 12 bytes as three 32-bit words in memory order, for frames that
  // start 4-aligned (all of ours: data_off 128 into a 64-aligned buffer), as
  // DPDK's l2fwd writes the addresses with wide stores rather than bytes.
  const macWords = new Uint32Array(macBytes.buffer, 0, MAX_PORTS * 3);
  const rxIdx = Int32Array.from(arg.rxPorts.map((p) => statIndex(arg.statsOffset, p, STAT_RX)));
  const pkts = new Uint32Array(burst);
  const drainPasses = arg.drainPasses;
  // Test only (faults.ts): stall once, holding the first frames received.
  let stallMs = testLcoreStallMs();

  // Passes since the last drain (a small int), added to `result.passes` at each
  // drain. A plain counter of every pass would pass 2^31 after about an hour
  // at full load: past the Smi range the optimized loop deopts and from then
  // on boxes the count in a new heap number every pass (~35 scavenges/s).
  let passes = 0;
  // What the loop returns, made before it and filled at each drain: code after the loop runs
  // first at the stop, without type feedback, and deoptimized the loop there (--trace-deopt:
  // "Insufficient type feedback", the final flush's compare, the result's keyed load). The last
  // drain, just before the stop check, has flushed every TX buffer, so nothing follows the loop.
  // -0, not 0: a double field from the start (a Smi field would change representation, and
  // deoptimize the loop, once the count passed 2^30).
  const result = { passes: -0 };
  // Empty passes in a row (IDLE_FENCE_PASSES).
  let empty = 0;
  // Priming. Under steady traffic at burst > 1 every poll can return a full burst, sent straight from
  // `pkts`: the TX buffer path (a short burst buffered, a buffer filled and sent in the loop, a partial
  // buffer flushed at the drain) and, when input never stops, the idle path (`++empty`, txFence) never
  // run before the loop is optimized, and the first short burst or empty poll, at a random moment
  // seconds later, deoptimized it ("Insufficient type feedback"; its interpreted passes until it is
  // optimized again fill the young generation: an lcore scavenge in the window, bench README "Session
  // 20: GC"). So the first PRIME_DRAINS drains after passes that found input run them on real frames:
  // a drain every 2 passes, and of each 2 steps one asks rxBurst for one frame less than the burst
  // (buffered, as a short burst is), one for the burst (sent straight); every 4th step counts as a pass
  // that found nothing, one short of the TX fence. Nothing is held back or dropped; the order is kept.
  // After it, `ask` and `drainEvery` are the burst and drainPasses, the loop as before (no check per pass).
  const primeAsk = burst > 1 ? burst - 1 : burst;
  let ask = primeAsk;
  let drainEvery = 2;
  let primeLeft = PRIME_DRAINS;
  for (;;) {
    let work = 0;
    for (let r = 0; r < nRx; r++) {
      const port = rxPorts[r]!;
      const n = rxBurst(port, 0, pkts, ask);
      if (n === 0) continue;
      if (stallMs !== 0) {
        stallThread(stallMs);
        stallMs = 0;
      }
      work += n;
      f64[rxIdx[r]!]! += n;
      const out = dst[port]!;
      const mo = out * 12;
      const mw = out * 3;
      if (macUpdating) {
        for (let i = 0; i < n; i++) {
          const a = mbufs.dataAddr(pkts[i]!);
          if ((a & 3) === 0) {
            const w = a >>> 2;
            u32[w] = macWords[mw]!;
            u32[w + 1] = macWords[mw + 1]!;
            u32[w + 2] = macWords[mw + 2]!;
          } else {
            for (let b = 0; b < 12; b++) u8[a + b] = macBytes[mo + b]!;
          }
        }
      }
      if (n === burst && txFill[out] === 0) {
        // A full burst and nothing buffered for its port: it goes out as received (testpmd's
        // mac forwarding), not copied into the TX buffer first; the order is kept (none waits).
        const sent = txBurst(out, 0, pkts, n);
        f64[txIdx[out]!]! += sent;
        if (((sent ^ n) | tx.primes) !== 0) {
          tx.dropFrom(pkts, sent, n);
          f64[dropIdx[out]!]! += n - sent;
        }
        continue;
      }
      const buf = txBuf[out]!;
      for (let i = 0; i < n; i++) {
        const m = pkts[i]!;
        buf[txFill[out]!] = m;
        if (++txFill[out]! === burst) {
          // TxBuffers.flush of a full buffer, written out here: the method call is a
          // few ns per burst, which at burst 1 is per packet.
          const sent = txBurst(out, 0, buf, burst);
          f64[txIdx[out]!]! += sent;
          txFill[out] = 0;
          if (((sent ^ burst) | tx.primes) !== 0) {
            tx.dropFrom(buf, sent, burst);
            f64[dropIdx[out]!]! += burst - sent;
          }
        }
      }
    }
    passes++;
    // DPDK drains every 100 µs by the TSC. On Node 20 every clock read
    // allocates, so the drain is paced in passes instead: after a pass that
    // found no input (nothing more is coming soon), and every drainPasses
    // passes (about 100 µs at full load, sooner when lighter).
    if (work === 0 || passes >= drainEvery) {
      for (let k = 0; k < nOut; k++) tx.flush(outPorts[k]!);
      result.passes += passes;
      passes = 0;
      // A module function, not ctx.stopped(): that is a new closure at every launch, and the
      // optimized loop of the warm-up's launch would deoptimize on it ("wrong call target").
      if (stopRequested(mem)) break;
      if (primeLeft !== 0 && work !== 0) {
        primeLeft--;
        ask = (primeLeft & 1) !== 0 ? primeAsk : burst;
        if ((primeLeft & 3) === 0) {
          work = 0;
          empty = IDLE_FENCE_PASSES - 1;
        }
        if (primeLeft === 0) {
          ask = burst;
          drainEvery = drainPasses;
        }
      }
    }
    if (work === 0) {
      // After the flush above: its publish is fenced too.
      if (++empty === IDLE_FENCE_PASSES) for (let k = 0; k < nOut; k++) txFence(outPorts[k]!, 0);
      backoff.idle();
    } else {
      empty = 0;
      backoff.reset();
    }
  }
  return result;
}

/**
 * The lcore's TX buffers, one per destination port (rte_eth_dev_tx_buffer),
 * and the counters a flush adds to. A class, not a closure in l2fwdLoop: a
 * closure is a new function at every launch, and the loop optimized during
 * the warm-up's launch would deoptimize at the real one ("wrong call target").
 */
class TxBuffers {
  readonly buf: Uint32Array[] = [];
  readonly fill = new Int32Array(MAX_PORTS);
  /** f64 index of each port's tx counter. */
  readonly txIdx = new Int32Array(MAX_PORTS);
  /** f64 index of each port's dropped counter (added to by the caller of dropFrom, see there). */
  readonly dropIdx = new Int32Array(MAX_PORTS);
  /**
   * Flushes left that run the drop path although nothing was dropped: it then
   * has type feedback before the loop is optimized, and the first full TX ring
   * long after does not deoptimize the loop (as the driver's QueueBase.statPrimes).
   * Each send's test reads it with no short circuit, `((sent ^ n) | primes) !== 0`:
   * with `sent !== n || primes !== 0` the read ran only after a send that took
   * everything, and a run whose first sends all met a full ring (chained b32 at
   * traffic start) optimized the loop without it; the first full send then
   * deoptimized it ("Insufficient type feedback", bench README "Session 21: GC").
   */
  primes = 64;

  constructor(private readonly mbufs: Mbufs, private readonly f64: Float64Array, burst: number, statsOffset: number) {
    for (let p = 0; p < MAX_PORTS; p++) {
      this.buf.push(new Uint32Array(burst));
      this.txIdx[p] = statIndex(statsOffset, p, STAT_TX);
      this.dropIdx[p] = statIndex(statsOffset, p, STAT_DROPPED);
    }
  }

  /** Send a destination's buffer; whatever the driver does not take is freed and counted dropped. */
  flush(port: number): void {
    const n = this.fill[port]!;
    if (n === 0) return;
    const buf = this.buf[port]!;
    const sent = txBurst(port, 0, buf, n);
    this.f64[this.txIdx[port]!]! += sent;
    this.fill[port] = 0;
    if (((sent ^ n) | this.primes) !== 0) {
      this.dropFrom(buf, sent, n);
      this.f64[this.dropIdx[port]!]! += n - sent;
    }
  }

  /**
   * What txBurst did not take of `arr[0..n)` (from `sent` on): freed. The caller
   * counts them dropped, in its own code: a full TX ring is rare (0.1-0.3 % of the frames of a loaded
   * chained burst-32 pipeline), so V8 does not inline this call into the optimized loop and this
   * runs in baseline code for its first few thousand calls, seconds into a run; there a Float64Array
   * read-modify-write allocates two HeapNumbers (32 B) at every call (bench README "Session 23: GC").
   */
  dropFrom(arr: Uint32Array, sent: number, n: number): void {
    this.mbufs.freeBulk(arr, n - sent, sent);
    if (this.primes !== 0) this.primes--;
  }
}


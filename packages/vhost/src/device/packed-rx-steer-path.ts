import type { Wire } from "../wires/wire.js";
import type { NetDevice } from "./net-device.js";
import * as R from "./packed-rx-path.js";
import { PEEK_BYTES, flowHash } from "./rx-steer.js";

// Module-local copies of imported constants (V8 does not fold imported bindings).
const DELIVERED = R.DELIVERED;
const MISSED = R.MISSED;
const NO_FIT = R.NO_FIT;
const FATAL = R.FATAL;
const PEEK = PEEK_BYTES;

/** The optional peek of a wire (see Wire.peek). */
type PeekFn = (u8: Uint8Array, addr: number, max: number) => number;

/**
 * processRxPacked (packed-rx-path.ts) once the driver enabled several queue
 * pairs (VQ_PAIRS_SET, §5.1.6.5.5): each frame goes to the receive queue its
 * flow hashes to, else round-robin (rx-steer.ts), exactly as the split RX
 * loop steers; a queue found without buffers misses the rest of its frames
 * this pass (a lossless wire stops there). The single-queue loop stays as it
 * is: the device calls this one only with steering.count > 1. Hot path:
 * nothing allocated; one publish per queue per pass.
 */
export function processRxPackedSteered(dev: NetDevice): number {
  const wire: Wire & { peek?: PeekFn } = dev.wire;
  let due = wire.ready();
  if (due === 0) return 0;
  if (due > dev.burst) due = dev.burst;
  if (dev.onDemand) {
    const room = dev.demand.window - dev.demand.out;
    if (room <= 0) return 0;
    if (due > room) due = room;
  }
  const lossless = wire.lossless;
  const steering = dev.steering;
  const nq = steering.count;
  const pqueues = dev.pqueues;
  const steer = steering.set;
  for (let k = 0; k < nq; k++) pqueues[steer[k]!]!.rxStarved = false;
  const canPeek = typeof wire.peek === "function";
  const u8 = dev.u8;
  const peekAt = dev.rxScratch;
  const maxFrame = dev.rxMaxFrame;
  let delivered = 0;
  let bytes = 0;
  let missed = 0;
  let oversize = 0;
  let noFit = 0;
  let dropped = 0;
  for (let i = 0; i < due; i++) {
    const flen = wire.frameLength();
    if (flen > maxFrame) {
      wire.drop();
      oversize++;
      continue;
    }
    let h = canPeek ? flowHash(u8, peekAt, wire.peek!(u8, peekAt, PEEK)) : -1;
    if (h < 0) h = steering.nextRoundRobin();
    const q = pqueues[steer[h % nq]!]!;
    if (q.rxStarved) {
      if (lossless) {
        due = i;
        break;
      }
      wire.drop();
      missed++;
      continue;
    }
    const r = R.receivePacked(dev, q, flen);
    if (r === DELIVERED) {
      delivered++;
      bytes += flen;
      continue;
    }
    if (r === MISSED && lossless) {
      due = i;
      break;
    }
    wire.drop();
    if (r === MISSED) {
      missed++;
      q.rxStarved = true;
    } else if (r === NO_FIT) noFit++;
    else {
      dropped++;
      if (r === FATAL) {
        due = i + 1;
        break;
      }
    }
  }
  if (dev.active) {
    for (let k = 0; k < nq; k++) {
      const q = pqueues[steer[k]!]!;
      if (q.publish()) dev.interrupt(q.regs);
    }
  }
  if (dev.onDemand && delivered !== 0) dev.demand.produced(delivered);
  R.countRx(dev, delivered, bytes, missed, oversize, noFit, dropped);
  return due;
}

/**
 * Worker for the cross-thread mempool test (loaded from dist/ by
 * threads.test.ts). Runs as one lcore (or LCORE_ID_ANY): allocates mbufs,
 * hands some to other workers through their inbound rings, frees the rest
 * (plain, shared-refcnt and chained) and frees what others hand it. Every
 * change of owner goes through a compare-and-swap on a shared ownership word
 * per mbuf, so an mbuf handed to two owners at once is caught.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Memory, setLcoreId } from "@tpdk/eal";
import { Ring } from "@tpdk/ring";
import { Mempool } from "./mempool.js";
import { Mbufs } from "./mbufs.js";

export interface PoolJob {
  sab: SharedArrayBuffer;
  poolName: string;
  lcore: number;
  id: number;
  workers: number;
  rounds: number;
  /** Each worker's inbound ring (MP/SC). */
  ringOffsets: number[];
  /** Byte offset of an Int32 per mbuf: 0 = nobody, w + 1 = worker w. */
  ownOffset: number;
  /** Int32 word: workers that finished their rounds. */
  doneWord: number;
  /** Int32 word nobody writes: where to sleep when backing off. */
  idleWord: number;
  timeoutMs: number;
}

export interface PoolReport {
  id: number;
  allocated: number;
  freed: number;
  given: number;
  received: number;
  allocFailures: number;
  error?: string;
}

class Fail extends Error {}

const job = workerData as PoolJob;
setLcoreId(job.lcore);
const mem = Memory.attach(job.sab);
const pool = Mempool.lookup(mem, job.poolName);
const mb = new Mbufs(mem);
const inbound = Ring.attach(mem, job.ringOffsets[job.id]!);
const outbound = job.ringOffsets.map((o) => Ring.attach(mem, o));
const own = new Int32Array(job.sab, job.ownOffset, pool.size);
const me = job.id + 1;
const held = new Uint32Array(32);
const toFree = new Uint32Array(64);
const rx = new Uint32Array(32);
const rep: PoolReport = { id: job.id, allocated: 0, freed: 0, given: 0, received: 0, allocFailures: 0 };
let rnd = 0x12345678 ^ (job.id * 0x9e3779b9);
let idle = 0;
let counted = false;

function random(): number {
  rnd ^= rnd << 13;
  rnd ^= rnd >>> 17;
  rnd ^= rnd << 5;
  return rnd >>> 0;
}

function slot(m: number): number {
  const i = pool.indexOf(m);
  if (i < 0) throw new Fail(`handle ${m} is not an mbuf of the pool`);
  return i;
}

/** Take ownership of a freshly allocated mbuf. */
function claim(m: number): void {
  const prev = Atomics.compareExchange(own, slot(m), 0, me);
  if (prev !== 0) throw new Fail(`mbuf ${m} allocated to worker ${job.id} while worker ${prev - 1} owns it`);
  if (mb.refcnt(m) !== 1 || mb.nbSegs(m) !== 1 || mb.next(m) !== 0 || mb.dataLen(m) !== 0 || mb.pktLen(m) !== 0 || mb.dataOff(m) !== 128) {
    throw new Fail(`mbuf ${m} not reset on alloc`);
  }
  // Stamp the packet bytes too: a second writer would show up at release.
  const at = mb.append(m, 4);
  mem.u32[at >>> 2] = me;
}

/** Give up ownership just before freeing (after the free the pool may hand it out). */
function release(m: number): void {
  if (mem.u32[mb.dataAddr(m) >>> 2] !== me) throw new Fail(`mbuf ${m}: packet bytes overwritten while worker ${job.id} owned it`);
  const prev = Atomics.compareExchange(own, slot(m), me, 0);
  if (prev !== me) throw new Fail(`mbuf ${m}: worker ${job.id} freeing it but the owner is ${prev - 1}`);
}

function backoff(): void {
  if (++idle > 8) Atomics.wait(mem.i32, job.idleWord, 0, 0.05);
}

/** Free everything other workers handed us. Returns how many. */
function drain(): number {
  const n = inbound.dequeueBurst(rx, rx.length);
  for (let i = 0; i < n; i++) {
    const m = rx[i]!;
    if (Atomics.load(own, slot(m)) !== me) throw new Fail(`mbuf ${m} handed to worker ${job.id} but owned by ${Atomics.load(own, slot(m)) - 1}`);
    // Take it over: restamp the bytes (the giver stamped its own id).
    mem.u32[mb.dataAddr(m) >>> 2] = me;
    release(m);
  }
  if (n > 0) mb.freeBulk(rx, n);
  rep.received += n;
  rep.freed += n;
  return n;
}

function round(): boolean {
  const k = 1 + (random() % 24);
  let got = 0;
  if (random() & 1) {
    got = pool.allocBulk(held, k);
  } else {
    while (got < k) {
      const m = pool.alloc();
      if (m === 0) break;
      held[got++] = m;
    }
  }
  if (got === 0) {
    rep.allocFailures++;
    return false;
  }
  rep.allocated += got;
  for (let i = 0; i < got; i++) claim(held[i]!);

  let nf = 0;
  for (let i = 0; i < got; i++) {
    const m = held[i]!;
    switch (random() % 5) {
      case 0: {
        // Hand it to another worker, which will free it.
        const to = (job.id + 1 + (random() % (job.workers - 1))) % job.workers;
        if (Atomics.compareExchange(own, slot(m), me, to + 1) !== me) throw new Fail(`mbuf ${m} lost its owner`);
        if (outbound[to]!.enqueue(m)) {
          rep.given++;
          continue;
        }
        Atomics.store(own, slot(m), me); // their ring is full: keep it
        break;
      }
      case 1: {
        // A second reference: the first free must not return it to the pool.
        mb.refcntUpdate(m, 1);
        const before = Atomics.load(own, slot(m));
        mb.free(m);
        if (mb.refcnt(m) !== 1 || before !== me) throw new Fail(`mbuf ${m}: shared free returned it early`);
        break;
      }
      case 2:
        if (i + 1 < got) {
          // Chain with the next one and free both through the head.
          const t = held[++i]!;
          release(m);
          release(t);
          mb.chain(m, t);
          mb.free(m);
          rep.freed += 2;
          continue;
        }
        break;
    }
    release(m);
    if (random() & 1) {
      mb.free(m);
      rep.freed++;
    } else {
      toFree[nf++] = m;
    }
  }
  if (nf > 0) mb.freeBulk(toFree, nf);
  rep.freed += nf;
  return true;
}

function run(): void {
  const deadline = Date.now() + job.timeoutMs;
  let done = 0;
  let step = 0;
  while (done < job.rounds) {
    if ((++step & 255) === 0 && Date.now() > deadline) throw new Fail(`timeout after ${done} rounds`);
    if (round()) {
      done++;
      idle = 0;
    } else if (drain() === 0) {
      backoff();
    }
    if ((step & 3) === 0) drain();
  }
  Atomics.add(mem.i32, job.doneWord, 1);
  counted = true;
  // Keep freeing what others send until everybody has finished sending.
  for (;;) {
    if (Date.now() > deadline) throw new Fail("timeout while draining");
    const finished = Atomics.load(mem.i32, job.doneWord) === job.workers;
    if (drain() === 0) {
      if (finished && inbound.empty()) break;
      backoff();
    }
  }
}

try {
  run();
} catch (e) {
  rep.error = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
  // Let the others finish instead of waiting for us until their deadline.
  if (!counted) Atomics.add(mem.i32, job.doneWord, 1);
}
parentPort!.postMessage(rep);

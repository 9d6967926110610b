// net_vhost's data path against a front-end played by the caller in a memfd: the set-up of
// packages/vhost-user's data-path.test.ts, shared with the inlining tests' child scripts
// (rx-inlining.test.ts, tx-inlining.test.ts), which import it by its package name.
import { openSync } from "node:fs";
import { Memory } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import type { NativeBinding } from "@tpdk/native";
import { BackendSession, GuestQueue, memTablePayload, NetVhostRxQueue, NetVhostTxQueue, protocol as P, RING_BYTES, RingControl, RingWords } from "@tpdk/vhost-user";
import { msg } from "./recording.js";

/** The front-end's memory file's size (one region). */
export const FILE = 1 << 20;
/** Its guest physical address: above 4 GiB, as DPDK's. */
export const GPA = 0x1_0033_8000;
/** Its address in the front-end's process (the vrings' addresses are these). */
export const UVA = 0x7f00_0000_0000;
/** Both rings' size. */
export const Q = 64;
/** Ring r at r * 0x4000 in the front-end's memory: descriptors, avail at +0x1000, used at +0x2000. */
export const ringOff = (r: number): number => r * 0x4000;
/** The front-end's buffer i (2 KiB each, from 0x10000). */
export const BUF = (i: number): number => 0x10000 + i * 2048;

export interface MemfdFrontend {
  s: BackendSession;
  g8: Uint8Array;
  g16: Uint16Array;
  g32: Uint32Array;
  /** net_vhost's queues on this thread (port 3): RX from the front-end's TX ring (1), TX into its RX ring (0). */
  rx: NetVhostRxQueue;
  tx: NetVhostTxQueue;
  rxq: GuestQueue;
  txq: GuestQueue;
  /** The lcore's memory and pool (512 mbufs, no cache). */
  mem: Memory;
  pool: Mempool;
  /** Post a descriptor (one buffer: gpa, len, flags) as entry i on ring r, and publish avail.idx. */
  post: (r: number, i: number, gpa: number, len: number, flags: number) => void;
  /** Ring r's used.idx. */
  usedIdx: (r: number) => number;
  /** Ring r's used entry k: [id, len]. */
  usedElem: (r: number, k: number) => [number, number];
  /** The eventfds of each ring's call (read them to see the back-end's interrupts). */
  call: number[];
  control: RingControl;
  rw: RingWords[];
  memFd: number;
  /** Session, ring control and memfd closed (the session closes the fds it was sent). */
  close: () => void;
}

/**
 * A back-end session set up by messages (SET_OWNER, SET_FEATURES with `features` + PROTOCOL_FEATURES
 * + VERSION_1, one memory region, both rings of Q entries enabled) over a fresh memfd that the caller
 * writes as the front-end, and net_vhost's two queues driven on the calling thread, as an lcore would.
 */
export function memfdFrontend(n: NativeBinding, features: number, name = "nvhost-guest"): MemfdFrontend {
  const memFd = n.memfdCreate(name, FILE, { allowSealing: true });
  const guest = n.mmapShared(memFd, FILE, 0);
  const g8 = new Uint8Array(guest);
  const g16 = new Uint16Array(guest);
  const g32 = new Uint32Array(guest);
  const words = new SharedArrayBuffer(2 * RING_BYTES);
  const rw = [new RingWords(words, 0), new RingWords(words, RING_BYTES)];
  const control = new RingControl(rw, n);
  const s = new BackendSession(n, control, { queuePairs: 1, requireSealed: false });
  // The session owns what it is sent (closed at s.close()); the caller reads the same eventfds.
  const call = [n.eventfd(0), n.eventfd(0)];
  const send = (request: number, payload: Uint8Array, fds: number[] = []): Uint8Array | null => s.handle({ request, flags: 0, payload, fds });
  send(P.SET_OWNER, new Uint8Array(0));
  // Bit 32: VIRTIO_F_VERSION_1.
  send(P.SET_FEATURES, msg.u64(features + 2 ** P.VHOST_USER_F_PROTOCOL_FEATURES + 2 ** 32));
  send(P.SET_MEM_TABLE, memTablePayload([{ guestPhysAddr: GPA, memorySize: FILE, userspaceAddr: UVA, mmapOffset: 0 }]), [openSync(`/proc/self/fd/${memFd}`, "r+")]);
  for (const r of [0, 1]) {
    send(P.SET_VRING_NUM, msg.state(r, Q));
    send(P.SET_VRING_ADDR, msg.addr(r, UVA + ringOff(r), UVA + ringOff(r) + 0x2000, UVA + ringOff(r) + 0x1000));
    send(P.SET_VRING_CALL, msg.u64(r), [call[r]!]);
    send(P.SET_VRING_KICK, msg.u64(r), [n.eventfd(0)]);
    send(P.SET_VRING_ENABLE, msg.state(r, 1));
  }
  const mem = Memory.create(8 << 20);
  const pool = Mempool.create(mem, "p", { n: 512, cacheSize: 0 });
  const rxq = new GuestQueue(n, rw[1]!);
  const txq = new GuestQueue(n, rw[0]!);
  const rx = new NetVhostRxQueue(mem, rxq, pool, 3);
  const tx = new NetVhostTxQueue(mem, txq, 3);
  const availIdx = [0, 0];
  const post = (r: number, i: number, gpa: number, len: number, flags: number): void => {
    const d = (ringOff(r) + i * 16) >>> 2;
    g32[d] = gpa % 0x1_0000_0000;
    g32[d + 1] = Math.floor(gpa / 0x1_0000_0000);
    g32[d + 2] = len;
    g16[(ringOff(r) + i * 16 + 12) >>> 1] = flags;
    const a = ringOff(r) + 0x1000;
    g16[(a + 4 + 2 * (availIdx[r]! % Q)) >>> 1] = i;
    availIdx[r] = (availIdx[r]! + 1) & 0xffff;
    Atomics.store(g16, (a + 2) >>> 1, availIdx[r]!);
  };
  const usedIdx = (r: number): number => Atomics.load(g16, (ringOff(r) + 0x2000 + 2) >>> 1);
  const usedElem = (r: number, k: number): [number, number] => {
    const e = (ringOff(r) + 0x2000 + 4 + 8 * k) >>> 2;
    return [g32[e]!, g32[e + 1]!];
  };
  const close = (): void => {
    s.close();
    control.close();
    n.close(memFd);
  };
  return { s, g8, g16, g32, rx, tx, rxq, txq, mem, pool, post, usedIdx, usedElem, call, control, rw, memFd, close };
}

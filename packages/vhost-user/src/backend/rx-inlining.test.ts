import { native, nativeMissingReason } from "@tpdk/native";
import { tracePhases, turbofanInlined } from "@tpdk/testing/child";
import { describe, expect, it } from "vitest";

const pkg = (p: string): string => JSON.stringify(new URL(`../../../${p}`, import.meta.url).href);

/**
 * net_vhost's rxBurst against a front-end played by the script in a memfd (data-path.test.ts's
 * set-up, in a child): first a front-end that sends a frame now and then (most polls find nothing,
 * as in the first milliseconds of traffic, when TurboFan compiles rxBurst), then bursts of 32.
 */
const script = `
import { openSync } from "node:fs";
const { Memory } = await import(${pkg("eal/dist/index.js")});
const { Mbufs, Mempool } = await import(${pkg("mbuf/dist/index.js")});
const { native: n } = await import(${pkg("native/dist/index.js")});
const { memTablePayload } = await import(${pkg("vhost-user/dist/message.js")});
const P = await import(${pkg("vhost-user/dist/protocol.js")});
const { NetVhostRxQueue } = await import(${pkg("vhost-user/dist/backend/rx-burst.js")});
const { bit } = await import(${pkg("vhost-user/dist/backend/features.js")});
const { GuestQueue } = await import(${pkg("vhost-user/dist/backend/guest-queue.js")});
const { RING_BYTES, RingControl, RingWords } = await import(${pkg("vhost-user/dist/backend/ring-control.js")});
const { BackendSession } = await import(${pkg("vhost-user/dist/backend/session.js")});
const { msg } = await import(${pkg("../test/support/dist/vhost-user/index.js")});
const FILE = 1 << 20, GPA = 0x1_0033_8000, UVA = 0x7f00_0000_0000, Q = 64;
const ringOff = (r) => r * 0x4000;
const BUF = (i) => 0x10000 + i * 2048;
const memFd = n.memfdCreate("nvhost-inl", FILE, { allowSealing: true });
const guest = n.mmapShared(memFd, FILE, 0);
const g8 = new Uint8Array(guest), g16 = new Uint16Array(guest), g32 = new Uint32Array(guest);
const words = new SharedArrayBuffer(2 * RING_BYTES);
const rw = [new RingWords(words, 0), new RingWords(words, RING_BYTES)];
const control = new RingControl(rw, n);
const s = new BackendSession(n, control, { queuePairs: 1, requireSealed: false });
const send = (request, payload, fds = []) => s.handle({ request, flags: 0, payload, fds });
send(P.SET_OWNER, new Uint8Array(0));
send(P.SET_FEATURES, msg.u64(bit(P.VHOST_USER_F_PROTOCOL_FEATURES) + bit(32)));
send(P.SET_MEM_TABLE, memTablePayload([{ guestPhysAddr: GPA, memorySize: FILE, userspaceAddr: UVA, mmapOffset: 0 }]), [openSync("/proc/self/fd/" + memFd, "r+")]);
for (const r of [0, 1]) {
  send(P.SET_VRING_NUM, msg.state(r, Q));
  send(P.SET_VRING_ADDR, msg.addr(r, UVA + ringOff(r), UVA + ringOff(r) + 0x2000, UVA + ringOff(r) + 0x1000));
  send(P.SET_VRING_CALL, msg.u64(r), [n.eventfd(0)]);
  send(P.SET_VRING_KICK, msg.u64(r), [n.eventfd(0)]);
  send(P.SET_VRING_ENABLE, msg.state(r, 1));
}
const mem = Memory.create(8 << 20);
const pool = Mempool.create(mem, "p", { n: 512, cacheSize: 0 });
const rx = new NetVhostRxQueue(mem, new GuestQueue(n, rw[1]), pool, 3);
const mb = new Mbufs(mem);
for (let i = 0; i < Q; i++) for (let b = 0; b < 60; b++) g8[BUF(i) + 12 + b] = (i + b) & 0xff;
let availIdx = 0;
const post = () => {
  const i = availIdx % Q, d = (ringOff(1) + i * 16) >>> 2, gpa = GPA + BUF(i);
  g32[d] = gpa % 0x1_0000_0000; g32[d + 1] = Math.floor(gpa / 0x1_0000_0000); g32[d + 2] = 72;
  g16[(ringOff(1) + i * 16 + 12) >>> 1] = 0;
  g16[(ringOff(1) + 0x1000 + 4 + 2 * i) >>> 1] = i;
  availIdx = (availIdx + 1) & 0xffff;
  Atomics.store(g16, (ringOff(1) + 0x1000 + 2) >>> 1, availIdx);
};
const out = new Uint32Array(32);
let got = 0;
const poll = () => { const k = rx.rxBurst(out, 32); for (let j = 0; j < k; j++) mb.free(out[j]); got += k; };
for (let i = 0; i < 20000; i++) { if (i % 16 === 0) post(); poll(); }
for (let i = 0; i < 4000; i++) { for (let j = 0; j < 32; j++) post(); poll(); }
if (got !== 1250 + 4000 * 32 || pool.inUse() !== 0) throw new Error("frames " + got + ", mbufs out " + pool.inUse());
console.log("=== done");
`;

/**
 * V8 weighs a call site by its calls per call of the function it compiles, from the feedback of the
 * calls so far, and inlines at most 920 bytes of bytecode into one function. rxBurst is compiled in
 * traffic's first milliseconds, when its per-frame call sites had run a fraction of a time per call:
 * the once-per-burst callees took the budget, and RX's `copy` and Mbufs' accessors stayed calls, or
 * not, run by run (10-50 ns a frame; bench/notes/net-vhost.md "Session 37: net_vhost used runs
 * stored unless equal; the inlining variant placed"). copyRun, called once per run of frames, weighs
 * them per frame: they are inlined into it whatever the first polls found.
 */
describe.skipIf(!native)(`net_vhost rxBurst: the per-frame copy fits V8's inlining budget${native ? "" : ` (skipped: ${nativeMissingReason})`}`, () => {
  it("copy and the mbuf field setters are inlined where the run's frames are copied, after a start with sparse frames", async () => {
    const { before } = await tracePhases(script, ["--trace-turbo-inlining", "--trace-opt"], "done", 110_000);
    // The function whose loop copies the run (copyRun; rxBurst itself before it had one): every TurboFan
    // compile of it, the first included, inlines the per-frame callees. Before copyRun, rxBurst's first
    // compile here (the sparse start) inlined none of them; a later recompile did.
    const holder = turbofanInlined(before, "copyRun").length > 0 ? "copyRun" : "rxBurst";
    const compiles = turbofanInlined(before, holder);
    expect(compiles.length, `${holder} compiled by TurboFan`).toBeGreaterThan(0);
    compiles.forEach((inlined, k) => {
      for (const f of ["copy", "setDataLen", "setPktLen", "setPort"]) expect(inlined, `${holder}'s compile ${k + 1} of ${compiles.length} inlines ${f}`).toContain(f);
    });
  }, 120_000);
});

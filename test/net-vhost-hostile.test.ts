// A hostile front-end on one net_vhost port while another port pair of the
// same l2fwd process forwards generator traffic: bad descriptors (addresses
// in no region or crossing its end, oversized lengths, bad next and head,
// loops, indirect without the feature, readable buffers in the RX ring), an
// avail index running ahead, garbage and out-of-order messages, and a
// disconnect in the middle of traffic. The good pair's frames are all
// accounted for, the bad port's errors are counted by kind in its xstats,
// l2fwd neither crashes nor hangs, and at exit every mbuf is back (exit 0:
// l2fwd exits 1 with ELEAK otherwise), no fd or mapping of the front-end's
// is left, and the socket file is gone with the test's folder. A front-end
// that shrinks its (unsealed) memory file, before the lcore maps it or while
// traffic runs (SIGBUS at the lcore's next touch past the end, answered by
// the addon's guard), costs only its own connection.
import { ftruncateSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { native, nativeMissingReason } from "@tpdk/native";
import { protocol, statePayload, u64Payload, addrPayload } from "@tpdk/vhost-user";
import {
  DESC_INDIRECT, DESC_NEXT, DESC_WRITE, GUEST_BASE, GUEST_BYTES, HOSTILE_QUEUE_SIZE, HostileFrontend, PeerSession, bufferOffset, lastJson,
  type NetVhostPortJson,
} from "@tpdk/testing/e2e";
import { until } from "@tpdk/testing/until";

const missing = native ? null : `the native addon is not built: ${nativeMissingReason}`;
const peers = new PeerSession();
const fronts: HostileFrontend[] = [];
afterEach(async () => {
  for (const f of fronts.splice(0)) f.close();
  await peers.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RX = 0; // the front-end's receive ring (the port's txBurst writes it)
const TX = 1; // the front-end's transmit ring (the port's rxBurst reads it)
/** Frames on the good pair: paced, so they last the whole hostile session. */
const COUNT = 200_000;
const RATE = "20k";
/**
 * The bound of a wait on l2fwd's port: used ring entries, the link going up or down, the good pair
 * moving. Session 29 timed each of this test's waits alone and with a CPU hog on each CPU at
 * autogroup nice -10 (2 runs each): 0-30 ms alone (0.4 s for the good pair's next JSON line), 0-1.0 s
 * loaded. 10 s is ten times the loaded figure (a bound costs time only in a failing run; a benchmark
 * at -20 leaves a test ~3 times less CPU than those hogs). Each such wait also ends at once if l2fwd
 * exits, with its output.
 */
const WAIT_MS = 10_000;
/**
 * The bound on the port closing a connection it refuses (closedByPeer): 0-4 ms alone, 64-282 ms
 * loaded (the 7 sessions, 2 runs, as WAIT_MS): 5 s, eighteen times the loaded figure.
 */
const CLOSE_MS = 5000;

/**
 * l2fwd with port 0 the front-end's net_vhost (port 1, a generator, feeds its RX ring and takes what
 * it sends) and ports 2 -> 3 the good pair, `count` paced frames into a sink; one lcore polls all
 * four. Resolved once its ports are started. `onL2`: a wait on the port ends at once if l2fwd
 * exits (a time-out or an exit shows its output); `goodRx`: the good pair's frames received so far;
 * `goodPairAccounted`: waits until each of its `count` frames was received or missed.
 */
async function startL2fwd(count: number, boundMs: number) {
  const sock = join(peers.sockDir(), "vhost.sock");
  const l2 = peers.l2fwd([
    "-l", "0", "--no-huge",
    "--vdev", `net_vhost0,iface=${sock}`,
    "--vdev", `virtio1,wire=gen,rate=${RATE}`,
    "--vdev", `virtio2,wire=gen,count=${count},rate=${RATE}`,
    "--vdev", "virtio3,wire=sink",
    "--", "-p", "0xf", "-q", "4", "-T", "1", "--json",
  ], boundMs);
  await l2.waitForPath(sock);
  const onL2 = l2.untilOptions;
  await l2.waitFor(/Checking link status/, 20_000);
  const goodRx = (): number => (l2.stdout.includes("{") ? lastJson(l2.stdout).ports[2]!.rx! : 0);
  const goodPairAccounted = (): Promise<void> =>
    until(() => {
      try {
        const p2 = lastJson(l2.stdout).ports[2]!;
        return p2.rx! + p2.missed! === count;
      } catch {
        return false;
      }
    }, 30_000, "the good generator's frames all received or missed", onL2);
  return { l2, sock, onL2, goodRx, goodPairAccounted };
}

/**
 * After a fault closed a front-end's connection: the port's counter `xstat` reaches 1, the lcore is alive
 * (the good pair still moves), the port serves the next front-end (10 frames), every good frame is
 * accounted for, the front-ends' memory is unmapped, and l2fwd stops cleanly. Returns port 0's last JSON.
 */
async function servesNextAfterFault(run: Awaited<ReturnType<typeof startL2fwd>>, xstat: string, count: number): Promise<NetVhostPortJson> {
  const { l2, sock, onL2, goodRx, goodPairAccounted } = run;
  await until(() => {
    try {
      return (lastJson(l2.stdout).ports[0] as NetVhostPortJson).xstats?.[xstat] === 1;
    } catch {
      return false;
    }
  }, 30_000, `the fault counted (${xstat})`, onL2);
  const before = goodRx();
  await until(() => goodRx() > before, WAIT_MS, "the good pair forwarding after the fault", onL2);
  const b = await connect(sock);
  await b.handshake();
  for (let k = 0; k < 10; k++) postFrame(b, k, k);
  await until(() => b.usedIdx(TX) === 10, WAIT_MS, "the next front-end's frames taken", onL2);
  b.close();

  await goodPairAccounted();
  await sleep(300);
  expect(guestMapped(l2.pid), "no mapping of the front-ends' memory left").toBe(false);
  l2.signal("SIGINT");
  const r = await l2.done;
  expect(r.signal, r.stderr).toBe(null);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(/ELEAK|not returned/);
  const [p0, , p2, p3] = lastJson(r.stdout).ports as Record<string, number>[];
  expect(p2!.rx! + p2!.missed!).toBe(count);
  expect(p3!.tx! + p3!.dropped!).toBe(p2!.rx);
  return p0 as NetVhostPortJson;
}

async function connect(sock: string): Promise<HostileFrontend> {
  const f = await HostileFrontend.connect(native!, sock);
  fronts.push(f);
  return f;
}

/** A valid frame for the front-end's TX ring in descriptor d, not yet offered: 12-byte header + 60-byte Ethernet frame at buffer i. */
function writeFrame(f: HostileFrontend, i: number, d: number): void {
  const off = bufferOffset(i);
  f.g8.fill(0, off, off + 72);
  f.g8.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xee, 0x08, 0x00], off + 12);
  f.desc(TX, d, GUEST_BASE + off, 72, 0);
}

/** writeFrame, then offer it. */
function postFrame(f: HostileFrontend, i: number, d: number): void {
  writeFrame(f, i, d);
  f.offer(TX, d);
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
/** What a process has open, sorted (a leak check that names what leaked). */
function fdList(pid: number): string {
  const names = readdirSync(`/proc/${pid}/fd`).map((f) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${f}`);
    } catch {
      return "(closed meanwhile)";
    }
  });
  return names.sort().join(" ");
}
const guestMapped = (pid: number): boolean => readFileSync(`/proc/${pid}/maps`, "utf8").includes("hostile-guest");

describe.skipIf(missing !== null)(`net_vhost: a hostile front-end while another pair forwards${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("bad rings, runaway indices, garbage messages and a disconnect mid-traffic: counted by kind, the good pair fully accounted for, no leak", async () => {
    const { l2, sock, onL2, goodRx, goodPairAccounted } = await startL2fwd(COUNT, 90_000);
    // Before any front-end (some start-up files may still be open: an upper bound).
    const startFds = fdCount(l2.pid);

    // --- Session A: a proper handshake, then bad descriptors on both rings. ---
    const a = await connect(sock);
    await a.handshake();
    await l2.waitFor(/Lcore \d+: RX port 0/, 20_000);
    const Q = HOSTILE_QUEUE_SIZE;
    a.desc(TX, 0, 0x10, 72, 0); // in no region
    a.offer(TX, 0);
    a.desc(TX, 1, GUEST_BASE + GUEST_BYTES - 8, 72, 0); // crosses the region's end
    a.offer(TX, 1);
    a.desc(TX, 2, GUEST_BASE + bufferOffset(2), 0xffff_ffff, 0); // oversized length
    a.offer(TX, 2);
    a.desc(TX, 3, GUEST_BASE + bufferOffset(3), 72, DESC_NEXT, 5000); // next past the table
    a.offer(TX, 3);
    a.desc(TX, 4, GUEST_BASE + bufferOffset(4), 72, DESC_NEXT, 4); // a chain that loops on itself
    a.offer(TX, 4);
    a.desc(TX, 5, GUEST_BASE + bufferOffset(5), 64, DESC_INDIRECT); // INDIRECT_DESC was not negotiated
    a.offer(TX, 5);
    a.offer(TX, 999); // a head past the ring
    a.desc(TX, 6, GUEST_BASE + bufferOffset(6), 72, DESC_WRITE | DESC_NEXT, 7); // writable before readable
    a.desc(TX, 7, GUEST_BASE + bufferOffset(7), 72, 0);
    a.offer(TX, 6);
    const goodA = 20;
    for (let k = 0; k < goodA; k++) postFrame(a, 8 + k, 8 + k);
    await until(() => a.usedIdx(TX) === 8 + goodA, WAIT_MS, "every TX chain returned used", onL2);
    // The RX ring: a buffer in no region, a readable one, a bad head, then 8 good ones that port 1's frames fill.
    a.desc(RX, 0, 0x1_0000, 2048, DESC_WRITE);
    a.offer(RX, 0);
    a.desc(RX, 1, GUEST_BASE + bufferOffset(40), 2048, 0);
    a.offer(RX, 1);
    a.offer(RX, 777);
    for (let k = 0; k < 8; k++) {
      a.desc(RX, 2 + k, GUEST_BASE + bufferOffset(41 + k), 2048, DESC_WRITE);
      a.offer(RX, 2 + k);
    }
    await until(() => a.usedIdx(RX) === 11, WAIT_MS, "every RX buffer returned used", onL2);
    expect([0, 1, 2].map((k) => a.usedElem(RX, k)[1]), "bad RX buffers are returned with length 0").toEqual([0, 0, 0]);
    for (let k = 3; k < 11; k++) expect(a.usedElem(RX, k)[1], "12-byte header + the generator's 60-byte frame").toBe(72);
    // Both avail indices run more than a ring ahead: counted, nothing taken, nothing written.
    a.setAvailIdx(TX, a.availIndex[TX]! + Q + 10);
    a.setAvailIdx(RX, a.availIndex[RX]! + Q + 10);
    // Counted: both show in the port's xstats on l2fwd's --json lines (one a second). Waited for, not
    // slept on: a 200 ms sleep was not always a poll of the port on a loaded machine (session 28, CPU
    // hogs at autogroup -10: the session was closed before one was counted, and the check at the end
    // found no such xstat). 30 s: a few of those lines even there.
    await until(() => {
      try {
        const p0 = lastJson(l2.stdout).ports[0] as NetVhostPortJson;
        return (p0.xstats?.rx_q0_avail_idx_runaway ?? 0) > 0 && (p0.xstats?.tx_q0_avail_idx_runaway ?? 0) > 0;
      } catch {
        return false; // no complete JSON line yet
      }
    }, 30_000, "both runaway avail indices counted", onL2);
    expect(a.usedIdx(TX)).toBe(8 + goodA);
    expect(a.usedIdx(RX)).toBe(11);
    a.close();
    await l2.waitFor(/Port 0 Link down \(net_vhost0: .*\); waiting for a front-end/, WAIT_MS);
    await sleep(200);
    // No front-end now: what session A was sent is closed, nothing else of it is open.
    const baseFds = fdList(l2.pid);
    expect(fdCount(l2.pid), baseFds).toBeLessThanOrEqual(startFds);

    // --- Sessions B..H: messages the port must refuse by closing the connection. ---
    const refused: [string, (f: HostileFrontend) => void][] = [
      ["garbage bytes (version 0)", (f) => f.raw(Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xf0))],
      ["a header announcing a 64 KiB payload", (f) => {
        const h = new DataView(new ArrayBuffer(12));
        h.setUint32(0, protocol.SET_MEM_TABLE, true);
        h.setUint32(4, 1, true);
        h.setUint32(8, 0xffff, true);
        f.raw(new Uint8Array(h.buffer));
      }],
      ["an unknown request", (f) => f.send(999)],
      ["SET_FEATURES before SET_OWNER", (f) => f.send(protocol.SET_FEATURES, u64Payload(2 ** 32))],
      ["a memory table without its fd", (f) => {
        f.send(protocol.SET_OWNER);
        f.send(protocol.SET_MEM_TABLE, f.memTable());
      }],
      ["overlapping regions", (f) => {
        f.send(protocol.SET_OWNER);
        const r = { guestPhysAddr: GUEST_BASE, memorySize: GUEST_BYTES, userspaceAddr: GUEST_BASE, mmapOffset: 0 };
        f.send(protocol.SET_MEM_TABLE, f.memTable([r, { ...r, guestPhysAddr: GUEST_BASE + 4096, userspaceAddr: GUEST_BASE + GUEST_BYTES }]), [f.memFd, f.memFd]);
      }],
      ["a ring whose addresses lie in no region", (f) => {
        f.send(protocol.SET_OWNER);
        f.send(protocol.SET_MEM_TABLE, f.memTable(), [f.memFd]);
        f.send(protocol.SET_VRING_NUM, statePayload({ index: 1, num: Q }));
        f.send(protocol.SET_VRING_ADDR, addrPayload({ index: 1, flags: 0, desc: 0x1000, used: 0x3000, avail: 0x2000, log: 0 }));
        f.send(protocol.SET_VRING_KICK, u64Payload(1 | protocol.VRING_NOFD_MASK));
      }],
    ];
    for (const [what, misbehave] of refused) {
      const f = await connect(sock);
      misbehave(f);
      expect(await f.closedByPeer(CLOSE_MS), `the port closes the connection after ${what}`).toBe(true);
      f.close();
    }

    // --- Session I: a good front-end again, traffic, then a hang-up in the middle of it. ---
    const ups = (): number => (l2.stdout.match(/Port 0 Link up \(net_vhost0: front-end rings enabled\)/g) ?? []).length;
    const downs = (): number => (l2.stdout.match(/Port 0 Link down/g) ?? []).length;
    const upsBefore = ups();
    const b = await connect(sock);
    await b.handshake();
    await until(() => ups() > upsBefore, WAIT_MS, "link up again", onL2);
    const goodB = 30;
    for (let k = 0; k < goodB; k++) postFrame(b, k, k % Q);
    await until(() => b.usedIdx(TX) === goodB, WAIT_MS, "session I's frames taken", onL2);
    let streamed = 0;
    const stop = Date.now() + 300;
    while (Date.now() < stop) {
      // Keep the ring full until the hang-up: frames posted and not yet taken are the front-end's loss.
      while (((b.availIndex[TX]! - b.usedIdx(TX)) & 0xffff) < Q - 1) {
        const d = b.availIndex[TX]! % Q;
        postFrame(b, d, d);
        streamed++;
      }
      await sleep(1);
    }
    const downsBefore = downs();
    b.close();
    await until(() => downs() > downsBefore, 20_000, "link down after the hang-up", onL2);
    // The good pair still forwards after all that (10 s of generator at 20 kpps outlast the hostile sessions).
    const before = goodRx();
    if (before + (l2.stdout.includes("{") ? lastJson(l2.stdout).ports[2]!.missed! : 0) < COUNT) {
      await until(() => goodRx() > before, WAIT_MS, "the good pair forwarding after the hostile sessions", onL2);
    }

    // --- The good pair runs to its end; then stop l2fwd. ---
    await goodPairAccounted();
    await sleep(300);
    expect(fdList(l2.pid), "no fd of a front-end left (sockets, memfds, eventfds)").toBe(baseFds);
    expect(guestMapped(l2.pid), "no mapping of the front-end's memory left").toBe(false);
    l2.signal("SIGINT");
    const r = await l2.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/ELEAK|not returned/);
    const [p0, p1, p2, p3] = lastJson(r.stdout).ports as Record<string, number>[];

    // The good pair: generated = received + missed, and everything received was sent and delivered.
    expect(p2!.rx! + p2!.missed!).toBe(COUNT);
    // (Frames before the first poll are missed: the paced generator starts with the port, l2fwd polls after its link wait.)
    expect(p2!.rx).toBeGreaterThan(0);
    expect(p3!.tx! + p3!.dropped!).toBe(p2!.rx);
    expect(p3!.wire_delivered).toBe(p3!.tx);

    // The hostile port: what it sent well was received; what it got is exactly its 8 good RX buffers.
    expect(p0!.rx).toBeGreaterThanOrEqual(goodA + goodB);
    expect(p0!.rx).toBeLessThanOrEqual(goodA + goodB + streamed);
    expect(p1!.tx! + p1!.dropped!).toBe(p0!.rx);
    expect(p0!.tx).toBe(8);
    expect(p0!.tx! + p0!.dropped!).toBe(p1!.rx);
    const x = (p0 as NetVhostPortJson).xstats!;
    expect(x).toMatchObject({
      rx_q0_good_packets: p0!.rx,
      rx_q0_addr_outside_memory: 3,
      rx_q0_bad_next: 1,
      rx_q0_chain_too_long: 1,
      rx_q0_bad_indirect: 1,
      rx_q0_bad_head: 1,
      rx_q0_desc_order: 1,
      tx_q0_good_packets: 8,
      tx_q0_addr_outside_memory: 1,
      tx_q0_desc_order: 1,
      tx_q0_bad_head: 1,
      vhost_connections: 2 + refused.length,
      vhost_protocol_errors: refused.length,
    });
    expect(x.rx_q0_avail_idx_runaway).toBeGreaterThan(0);
    expect(x.tx_q0_avail_idx_runaway).toBeGreaterThan(0);
    expect(x.vhost_quiesce_stuck ?? 0).toBe(0);
    console.log(`net_vhost hostile: ${refused.length} refused sessions, xstats ${JSON.stringify(x)}; good pair ${p2!.rx} received + ${p2!.missed} missed of ${COUNT}`);
  }, 120_000);

  it("a front-end that shrinks its memory file after SET_MEM_TABLE (the lcore's own map then fails): connection closed and counted, the lcore and the good pair keep running, the port serves the next front-end", async () => {
    const count = 40_000;
    const run = await startL2fwd(count, 60_000);
    const { sock } = run;

    // The table is accepted (the session's trial map of the whole file succeeds); then the file is cut to
    // half before the rings start, so the lcore's map at their first burst fails (past the file's end).
    const a = await connect(sock);
    // The port may close before it acks the last enable (when the lcore met ring 0 before ring 1 was enabled).
    await a.handshake(() => ftruncateSync(a.memFd, GUEST_BYTES / 2)).catch((e: Error) => expect(e.message).toMatch(/closed at SET_VRING_ENABLE/));
    expect(await a.closedByPeer(CLOSE_MS), "the port closes the connection once its lcore could not map the table").toBe(true);
    a.close();
    const p0 = await servesNextAfterFault(run, "vhost_ring_faults", count);
    expect(p0.rx).toBe(10);
    const x = p0.xstats!;
    expect(x).toMatchObject({ vhost_connections: 2, vhost_ring_faults: 1, vhost_disconnects: 2 });
    expect(x.vhost_protocol_errors ?? 0).toBe(0);
    // The ring(s) the lcore reached before the connection closed: each counted once.
    const setup = (x.rx_q0_ring_setup_errors ?? 0) + (x.tx_q0_ring_setup_errors ?? 0);
    expect(setup).toBeGreaterThanOrEqual(1);
    expect(setup).toBeLessThanOrEqual(2);
    console.log(`net_vhost shrunk table: xstats ${JSON.stringify(x)}`);
  }, 90_000);
  it("a front-end that shrinks its memory file while traffic runs (the lcore's next touch past the end is SIGBUS): the addon's guard answers it, the connection is closed and counted, the lcore and the good pair keep running, the port serves the next front-end", async () => {
    const count = 40_000;
    const run = await startL2fwd(count, 60_000);
    const { sock, onL2 } = run;

    // Traffic first: frames through the port, so the lcore has the table mapped and is reading it.
    const a = await connect(sock);
    await a.handshake();
    for (let k = 0; k < 10; k++) postFrame(a, k, k);
    await until(() => a.usedIdx(TX) === 10, WAIT_MS, "the front-end's frames taken before the cut", onL2);
    // Ten more frames in buffers at 64 KiB and beyond; then the file is cut to 32 KiB (the rings, at
    // 0-0x8000, stay inside it; the buffers do not) and the frames are offered: the lcore's read of the
    // first one is past the file's end. Without the guard that SIGBUS kills l2fwd (every port).
    // From the cut on, this process touches only the rings (its own mapping past 32 KiB is SIGBUS too).
    for (let k = 10; k < 20; k++) writeFrame(a, k, k);
    ftruncateSync(a.memFd, 0x8000);
    for (let k = 10; k < 20; k++) a.offer(TX, k);
    expect(await a.closedByPeer(CLOSE_MS), "the port closes the connection once the guard answered the fault").toBe(true);
    a.close();
    const p0 = await servesNextAfterFault(run, "vhost_guest_memory_faults", count);
    // The 10 before the cut and the next front-end's 10; of the 10 offered after the cut, those the lcore took
    // in the burst that met the fault (read as zeros from there on).
    expect(p0.rx).toBeGreaterThanOrEqual(20);
    expect(p0.rx).toBeLessThanOrEqual(30);
    const x = p0.xstats!;
    expect(x).toMatchObject({ vhost_connections: 2, vhost_guest_memory_faults: 1, vhost_disconnects: 2 });
    expect(x.vhost_ring_faults ?? 0).toBe(0);
    expect(x.vhost_protocol_errors ?? 0).toBe(0);
    console.log(`net_vhost shrunk while running: xstats ${JSON.stringify(x)}`);
  }, 90_000);
});

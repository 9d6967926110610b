// Faults at a udp wire, through the real l2fwd binary: a socket whose every
// send fails while l2fwd runs. The remote is the limited broadcast address,
// and the socket (as on any host) has no SO_BROADCAST, so the kernel refuses
// each datagram (EACCES) while the socket keeps receiving.
//
// Designed behaviour, as a DPDK PMD treats a failed transmit (counted in
// oerrors, the application carries on): every frame is counted once in
// wire_write_errors, l2fwd warns at exit with the count and exits 0 after
// SIGINT (a udp input never ends); no crash, no stack trace, and the counters
// conserve packets in both directions:
//   gen -> port 0 -> l2fwd -> port 1 -> (send fails)      received = sent + dropped; sent = delivered + wire errors
//   test socket -> port 1 -> l2fwd -> port 0 -> gen wire   datagrams = received + missed; received = sent + dropped
import { afterEach, describe, expect, it } from "vitest";
import { L2fwdChild, type PortJson } from "@tpdk/testing/e2e";
import { freeUdpPort, udpSocket } from "@tpdk/testing/e2e";

const BROADCAST = "255.255.255.255";

/** The error a send from 127.0.0.1 to the broadcast address gets here (null: it was sent). */
async function broadcastSendError(): Promise<string | null> {
  const s = await udpSocket();
  s.on("error", () => {});
  const err = await new Promise<Error | null>((r) => s.send(Buffer.alloc(60), 9, BROADCAST, (e) => r(e)));
  s.close();
  return err ? ((err as NodeJS.ErrnoException).code ?? err.message) : null;
}

const sendError = await broadcastSendError();

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

describe("a udp wire whose sends fail", () => {
  it.skipIf(sendError === null)(`remote=${BROADCAST} (send fails: ${sendError}): counted in wire_write_errors, warned, exit 0, conserved both ways`, async () => {
    const N = 3000; // frames the gen offers to port 0, forwarded to port 1's failing socket
    const M = 200; // datagrams the test sends to port 1's socket, forwarded to port 0
    const local = await freeUdpPort();
    const l2fwd = new L2fwdChild([
      "-l", "0",
      // heartbeat_timeout_ms: a device thread busy with thousands of failed sends on a loaded
      // machine can miss the default 2 s; the watchdog is not what this tests.
      "--vdev", `virtio0,wire=gen,count=${N},size=64:1518,heartbeat_timeout_ms=5000`,
      "--vdev", `virtio1,wire=udp,local=127.0.0.1:${local},remote=${BROADCAST}:4789,heartbeat_timeout_ms=5000`,
      "--", "-p", "0x3", "-q", "2", "-T", "1", "--json",
    ]);
    const peer = await udpSocket();
    cleanup = () => {
      l2fwd.kill();
      peer.close();
    };
    // The device thread binds the socket before any port starts.
    await l2fwd.waitFor("l2fwd to start", (_, out) => out.includes("Lcore 0: RX port 1"), 30_000);
    // Frames that make it in through the failing socket's receive side, a few at a time
    // (the kernel's receive buffer must not overflow while the device thread is busy).
    for (let i = 0; i < M; i++) {
      const f = Buffer.alloc(60 + (i % 50));
      f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0xcc, 0, 0, 0, 9, 0x88, 0xb5, i & 0xff, i >>> 8]);
      await new Promise<void>((r, j) => peer.send(f, local, "127.0.0.1", (e) => (e ? j(e) : r())));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    await l2fwd.waitFor(
      `all ${N} generated frames and ${M} datagrams to be received`,
      (ports) => ports !== null && ports[0]!.rx === N && ports[1]!.rx + (ports[1]!.missed ?? 0) === M,
      30_000,
    );
    const r = await l2fwd.stop();
    expect(r, l2fwd.stderr).toEqual({ code: 0, signal: null });
    expect(l2fwd.stdout).toContain("Bye...");

    const [p0, p1] = l2fwd.lastPorts()! as [PortJson, PortJson];
    // gen -> port 0 -> port 1 -> failing socket: every frame sent is a write error.
    expect(p0.rx).toBe(N);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    expect(p1.tx).toBeGreaterThan(0);
    expect(p1.wire_delivered).toBe(0);
    expect(p1.wire_write_errors).toBe(p1.tx);
    // test socket -> port 1 -> port 0 -> gen wire: receiving still works.
    expect(p1.rx! + p1.missed!).toBe(M);
    expect(p1.rx).toBe(p0.tx! + p0.dropped!);
    expect(p0.tx).toBe(p0.wire_delivered);
    expect(p0.wire_write_errors).toBe(0);
    // Reported once, at exit, and nothing else on stderr (no stack, no crash).
    expect(l2fwd.stderr).toBe(`l2fwd: warning: port 1: its wire failed to write ${p1.wire_write_errors} frame(s) (last error: EACCES)\n`);
  });
});

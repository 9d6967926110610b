// Faults in the device thread, through the real l2fwd binary, injected with the
// test-only TPDK_FAULT_DEVICE hook (packages/vhost/src/faults.ts):
// - crash (an exception in the thread): reaches l2fwd as Vhost.failed,
//   "device thread failed: <reason>"; the thread still flushes its wires;
// - hang (alive, silent, asleep): only the heartbeat watchdog notices,
//   "device thread stopped answering", and the hung thread is terminated;
// - wire-error (one device's wire throws): that device needs a reset, the
//   library logs it, l2fwd says "device failed: <device>: <reason>".
// Each: the reason on stderr in one line from l2fwd, no stack trace, exit 1,
// nothing hangs (bounded), every mbuf back, counters conserve packets.
// Before the ports are up, the failed thread's reason replaces the trap timeout.
// test/faults-device.test.ts covers a thread that vanishes (terminated).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type RunResult, lastJson, readPcap, runL2fwd, tempDir } from "@tpdk/testing/e2e";
import { freeUdpPort } from "@tpdk/testing/e2e";

/** l2fwd must finish well within this (watchdog 2 s, trap timeout 2 s); a hang fails the test. */
const BOUND_MS = 30_000;
const AFTER = 2000; // frames the devices take from l2fwd's TX queues before the fault strikes

const CRASH = /^l2fwd: device thread failed: injected fault \(TPDK_FAULT_DEVICE=crash-after-tx-frames:2000\); exiting$/;
const HANG = /^l2fwd: device thread stopped answering \(port \d+: no heartbeat for \d+ ms\); exiting$/;

/** stderr is exactly the one report line: no stack trace, no second message. */
function expectOneLine(r: RunResult, line: RegExp): void {
  // On a machine with fewer CPUs than lcores the EAL also warns that an lcore runs unpinned: not this test's business.
  const lines = r.stderr.split("\n").filter((l) => l !== "" && !/^tpdk: warning: lcores? [\d,]+ runs? unpinned/.test(l));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

/** Per pair: received = sent + dropped; a wire never takes more than was sent to it. */
function expectConserved(r: RunResult, pairs: ReadonlyArray<readonly [number, number]>): Array<Record<string, number>> {
  const ports = lastJson(r.stdout).ports;
  for (const [a, b] of pairs) {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const rx = ports[from]!;
      const tx = ports[to]!;
      expect(rx.rx, `port ${from} -> ${to}`).toBe(tx.tx! + tx.dropped!);
      // Frames sent but still in a dead device's TX ring never reached the wire.
      expect(tx.wire_delivered! + tx.wire_write_errors!).toBeLessThanOrEqual(tx.tx!);
    }
  }
  return ports;
}

describe("l2fwd when its device thread crashes or hangs (TPDK_FAULT_DEVICE)", () => {
  for (const [action, report] of [["crash", CRASH], ["hang", HANG]] as const) {
    it(`${action} while forwarding, one lcore: the reason in one line, final statistics, exit 1`, async () => {
      const r = await runL2fwd(
        ["-l", "0", "--vdev", "virtio0,wire=gen,rate=50000", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"],
        BOUND_MS,
        { TPDK_FAULT_DEVICE: `${action}-after-tx-frames:${AFTER}` },
      );
      expect(r.code, r.stderr).toBe(1);
      expectOneLine(r, report);
      expect(r.stdout).not.toContain("Bye...");
      const ports = expectConserved(r, [[0, 1]]);
      // The fault struck while l2fwd was forwarding: the device had taken AFTER frames.
      expect(ports[1]!.tx).toBeGreaterThanOrEqual(AFTER);
      expect(ports[1]!.wire_delivered).toBeGreaterThanOrEqual(AFTER);
    });

    it(`${action} with a udp wire (the thread runs its event loop), 4 ports on 2 lcores: exit 1, nothing hangs`, async () => {
      const [local, remote] = [await freeUdpPort(), await freeUdpPort()];
      const r = await runL2fwd(
        [
          "-l", "0-1",
          "--vdev", "virtio0,wire=gen,rate=20000",
          "--vdev", `virtio1,wire=udp,local=127.0.0.1:${local},remote=127.0.0.1:${remote}`,
          "--vdev", "virtio2,wire=gen,rate=20000,size=1518",
          "--vdev", "virtio3,wire=sink",
          "--", "-p", "0xf", "-q", "2", "-T", "0", "--json",
        ],
        BOUND_MS,
        { TPDK_FAULT_DEVICE: `${action}-after-tx-frames:${AFTER}` },
      );
      expect(r.code, r.stderr).toBe(1);
      expectOneLine(r, report);
      const ports = expectConserved(r, [[0, 1], [2, 3]]);
      expect(ports[1]!.tx! + ports[3]!.tx!).toBeGreaterThanOrEqual(AFTER);
    });

    it(`${action} before the ports are up: one line naming why, exit 1, no port started`, async () => {
      // The first device pass fails; the driver's first trap (reset, at probe) cannot be answered.
      const r = await runL2fwd(
        ["-l", "0", "--vdev", "virtio0,wire=gen", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0"],
        BOUND_MS,
        { TPDK_FAULT_DEVICE: `${action}-after-ms:0` },
      );
      expect(r.code, r.stderr).toBe(1);
      expectOneLine(
        r,
        action === "crash"
          ? /^l2fwd: device thread failed: injected fault \(TPDK_FAULT_DEVICE=crash-after-ms:0\) \(EDEVICE\)$/
          : /^l2fwd: virtio0: device not answering \(.* timed out after \d+ ms\); is the device thread alive\? .*\(ETIMEDOUT\)$/,
      );
      expect(r.stdout).not.toContain("Lcore");
    });
  }

  it("a wire that throws: its device needs a reset (the library's line), l2fwd names the device, exit 1", async () => {
    const r = await runL2fwd(
      ["-l", "0", "--vdev", "virtio0,wire=gen,rate=50000", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"],
      BOUND_MS,
      { TPDK_FAULT_DEVICE: `wire-error-after-tx-frames:${AFTER}` },
    );
    expect(r.code, r.stderr).toBe(1);
    const why = `injected fault (TPDK_FAULT_DEVICE=wire-error-after-tx-frames:${AFTER})`;
    // Only port 1 transmits into a wire (a sink): its device failed, the thread did not.
    expect(r.stderr).toBe(`tpdk: vhost: virtio1: ${why} (device needs reset)\nl2fwd: device failed: virtio1: ${why}; exiting\n`);
    expect(r.stdout).not.toContain("Bye...");
    const ports = expectConserved(r, [[0, 1]]);
    expect(ports[1]!.wire_delivered).toBeGreaterThanOrEqual(AFTER);
  });

  it("a crashing thread still flushes its wires: tx_pcap holds every frame its wire took, whole", async () => {
    const t = tempDir();
    try {
      const out = join(t.dir, "out.pcap");
      const r = await runL2fwd(
        ["-l", "0", "--vdev", "virtio0,wire=gen,rate=20000,size=64:1518", "--vdev", `virtio1,wire=pcap,tx_pcap=${out}`, "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"],
        BOUND_MS,
        { TPDK_FAULT_DEVICE: `crash-after-tx-frames:${AFTER}` },
      );
      expect(r.code, r.stderr).toBe(1);
      expectOneLine(r, CRASH);
      const ports = expectConserved(r, [[0, 1]]);
      expect(ports[1]!.wire_write_errors).toBe(0);
      expect(ports[1]!.wire_delivered).toBeGreaterThanOrEqual(AFTER);
      expect(readPcap(out)).toHaveLength(ports[1]!.wire_delivered!);
    } finally {
      t.cleanup();
    }
  });

  for (const bad of ["crash", "crash-after-ms", "crash-after-ms:soon", "hang-after-frames:10", "explode-after-ms:5", "crash-after-ms:-1"]) {
    it(`a malformed TPDK_FAULT_DEVICE=${bad} is refused in one line before anything runs`, async () => {
      const r = await runL2fwd(["-l", "0", "--vdev", "virtio0,wire=gen", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0"], BOUND_MS, {
        TPDK_FAULT_DEVICE: bad,
      });
      expect(r.code, `signal ${r.signal}: ${r.stderr}`).toBe(1);
      expectOneLine(r, /^l2fwd: vhost: TPDK_FAULT_DEVICE=\S+ is not a fault; use crash-, hang- or wire-error-after-ms:N or -after-tx-frames:N .* \(EINVAL\)$/);
      expect(r.stderr).toContain(`TPDK_FAULT_DEVICE=${bad} `);
      expect(r.stdout).not.toContain("Initializing port");
    });
  }

  it("an empty TPDK_FAULT_DEVICE is no fault: the run ends normally", async () => {
    const r = await runL2fwd(["-l", "0", "--vdev", "virtio0,wire=gen,count=500", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3", "-q", "2", "-T", "0", "--json"], BOUND_MS, {
      TPDK_FAULT_DEVICE: "",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Bye...");
    expect(lastJson(r.stdout).ports[1]!.wire_delivered).toBe(500);
  });
});

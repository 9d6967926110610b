// Two l2fwd forwarding pairs chained by a loop wire, in one l2fwd process:
//
//   in.pcap -> port 0 -> l2fwd (lcore 0) -> port 1 ==loop== port 2 -> l2fwd (lcore 1) -> port 3 -> out.pcap
//
// What comes out of port 3 must be the input, frame for frame (rewritten by
// l2fwd's MAC updating at each hop when it is on). A loop's input never ends,
// so l2fwd does not stop by itself: the test waits for port 3's wire to have
// taken every frame, then sends SIGINT and expects a clean exit.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeFrames, portMac, readPcap, rewritten, tempDir, writePcap } from "@tpdk/testing/e2e";
import { L2fwdChild } from "@tpdk/testing/e2e";

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe("l2fwd chain over a loop wire", () => {
  for (const macUpdating of [false, true]) {
    it(`pcap -> l2fwd -> loop -> l2fwd -> pcap reproduces the input${macUpdating ? " (MAC updating at both hops)" : " (--no-mac-updating)"}`, async () => {
      const t = tempDir();
      const N = 3000; // fewer than port 2's RX ring (4096): a cable drops what finds no buffer
      const frames = makeFrames(0, N);
      const inPath = join(t.dir, "in.pcap");
      const outPath = join(t.dir, "out.pcap");
      writePcap(inPath, frames);
      const l2fwd = new L2fwdChild([
        "-l", "0-1",
        "--vdev", `virtio0,wire=pcap,rx_pcap=${inPath},queue_size=4096`,
        "--vdev", "virtio1,wire=loop,peer=2,queue_size=4096",
        "--vdev", "virtio2,wire=loop,peer=1,queue_size=4096",
        "--vdev", `virtio3,wire=pcap,tx_pcap=${outPath},queue_size=4096`,
        "--", "-p", "0xf", "-q", "2", "-T", "1", "--json", ...(macUpdating ? [] : ["--no-mac-updating"]),
      ]);
      cleanup = () => {
        l2fwd.kill();
        t.cleanup();
      };
      await l2fwd.waitFor(`port 3's wire to take ${N} frames`, (ports) => (ports?.[3]?.wire_delivered ?? 0) >= N, 60_000);
      const r = await l2fwd.stop();
      expect(r).toEqual({ code: 0, signal: null });
      expect(l2fwd.stdout).toContain("Bye...");
      expect(l2fwd.stderr.replace(/.*warning.*\n/gi, "")).toBe("");
      // The final statistics: every frame went 0 -> 1 -> (loop) -> 2 -> 3, nothing missed or dropped.
      const ports = l2fwd.lastPorts()!;
      expect(ports.map((p) => [p.rx, p.tx, p.dropped])).toEqual([[N, 0, 0], [0, N, 0], [N, 0, 0], [0, N, 0]]);
      expect(ports.map((p) => p.missed)).toEqual([0, 0, 0, 0]);
      expect(ports[1]!.wire_delivered).toBe(N); // port 1's loop wire took N frames from its driver...
      expect(ports[3]!.wire_delivered).toBe(N);

      const got = readPcap(outPath);
      expect(got.length).toBe(N);
      const mac3 = portMac(l2fwd.stdout, 3);
      const mac1 = portMac(l2fwd.stdout, 1);
      for (let i = 0; i < N; i++) {
        const want = macUpdating ? rewritten(rewritten(frames[i]!, 1, mac1), 3, mac3) : frames[i]!;
        if (Buffer.compare(got[i]!, want) !== 0) throw new Error(`out frame ${i} differs from in frame ${i}`);
      }
    });
  }

  it("refuses a loop whose peer does not point back, before starting, naming the fix", async () => {
    const l2fwd = new L2fwdChild(["--vdev", "virtio0,wire=loop,peer=1", "--vdev", "virtio1,wire=sink", "--", "-p", "0x3"]);
    cleanup = () => l2fwd.kill();
    const r = await l2fwd.exit();
    expect(r).toEqual({ code: 2, signal: null });
    expect(l2fwd.stderr).toContain("virtio0: peer=1 is virtio1, whose wire is sink; give virtio1 wire=loop,peer=0");
  });
});

// The lcores poll right after the ports start: their threads were created,
// pinned and given the forwarding loop at EAL init (as rte_eal_init creates
// DPDK's lcore threads before any port exists), so the launch is one message
// and a paced generator below capacity misses nothing from its first frame on.
// Counted, not timed: generated = received, missed = 0. The ring holds 1024
// frames, 100 ms at 10 kpps: lcore threads created and loading their code
// only after the ports have started (120-160 ms on a quiet machine) miss
// hundreds; a machine that stalls the lcore or the device thread for longer
// than the ring lasts makes this fail too.
import { describe, expect, it } from "vitest";
import { lastJson, runL2fwd } from "@tpdk/testing/e2e";

describe("l2fwd start: the first poll follows the ports' start", () => {
  for (const [lcores, perLcore] of [["0", "2"], ["0-1", "1"]] as const) {
    // Retried: a stall of the shared VM longer than the ring lasts is random, while
    // a late lcore start misses frames on every try and still fails all three.
    it(`-l ${lcores}: a 10 kpps generator misses 0 frames after start`, { retry: 2 }, async () => {
      const count = 3000;
      const r = await runL2fwd([
        "-l", lcores,
        "--vdev", `virtio0,wire=gen,count=${count},rate=10000`,
        "--vdev", "virtio1,wire=sink,check=1",
        "--", "-p", "0x3", "-q", perLcore, "-T", "0", "--json",
      ]);
      expect(r.code).toBe(0);
      const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
      expect(p0.rx! + p0.missed!).toBe(count);
      expect(p0.missed).toBe(0);
      expect(p0.rx).toBe(count);
      expect(p1.wire_delivered).toBe(count);
    });
  }
});

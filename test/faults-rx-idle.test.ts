// Faults: the RX side goes quiet for a long time (the link of the generating
// port is down). The lcore and the device thread back off instead of
// spinning: the whole process uses a fraction of a CPU while idle. When frames
// come again, forwarding resumes with nothing lost. l2fwd runs in this
// process (scripts/dist/lib/inproc-l2fwd.js: the real lcore loop) so that its
// counters and the devices are at hand.
import { describe, expect, it } from "vitest";
import { InprocL2fwd, sleep } from "@tpdk/scripts/inproc-l2fwd";
import { until } from "@tpdk/testing/until";

describe("RX idle for a long time", () => {
  it("costs a fraction of a CPU (backoff, no busy spin); traffic resumes when frames come back", async () => {
    const app = await InprocL2fwd.start({ vdevs: ["virtio0,wire=gen,size=64:512", "virtio1,wire=sink,check=1"], memoryMb: 128 });
    let stopped = false;
    try {
      const rx = (): number => app.appCounters()[0]!.rx;
      await until(() => rx() > 10_000, 30_000, "10 000 frames received", { every: 20 });
      // The generating port's link goes down: no more frames; wait for the pipeline to empty,
      // by counts (every frame the generator put into the RX ring received by the lcore, twice
      // running): an rx count that merely stood still for one poll was a descheduled lcore
      // with a burst still in the ring, once off by 64 on a loaded machine.
      const gen = app.bus.devices[0]!;
      gen.setLinkUp(false);
      let last = -1;
      await until(
        () => {
          const w = gen.wireStats();
          const now = rx();
          const drained = now === w.generated - w.missed && now === last;
          last = now;
          return drained;
        },
        10_000,
        "every generated frame received, twice running (20 ms apart)",
        { every: 20 },
      );
      await sleep(100);
      const idleRx = rx();
      // One second of nothing to do: every polling thread should be sleeping most of it.
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(1000);
      const cpu = process.cpuUsage(c0);
      const wallUs = (performance.now() - t0) * 1000;
      const share = (cpu.user + cpu.system) / wallUs;
      expect(rx()).toBe(idleRx);
      // Busy polling would cost 2 CPUs here (lcore + device thread); backing off, a few percent.
      expect(share).toBeLessThan(0.5);
      // Frames again: forwarding resumes.
      gen.setLinkUp(true);
      await until(() => rx() > idleRx + 10_000, 30_000, "10 000 more frames once the link is up again", { every: 20 });
      const r = await app.stop();
      stopped = true;
      expect(r.lcoreError).toBeNull();
      expect(r.leaked).toBe(0);
      const [p0, p1] = app.appCounters();
      expect(p0!.rx).toBe(p1!.tx + p1!.dropped);
      const w1 = app.bus.devices[1]!.wireStats();
      expect(w1.received).toBe(p1!.tx);
      expect(w1.badChecksum).toBe(0);
      expect(w1.duplicated).toBe(0);
    } finally {
      if (!stopped) await app.stop();
    }
  });
});

// l2fwd end to end on generated traffic: a paced generator on port 0, a sink
// on port 1. Every packet is accounted for: generated = received + missed,
// received = sent + dropped, sent = delivered to the sink; at a rate the
// pipeline sustains, nothing is missed or dropped.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { L2FWD, lastJson, ownedChild, runL2fwd } from "@tpdk/testing/e2e";

describe("l2fwd gen -> sink", () => {
  // Retried once: a paced source misses whatever arrives while the lcore is
  // not scheduled for longer than its ring lasts (here 800 ms), which a shared
  // 2-CPU VM running other suites at normal priority beside this niced one
  // can do; a pipeline that loses or miscounts frames fails every try.
  it("conserves packets and loses none at a sustainable rate", { retry: 1 }, async () => {
    // The wire starts once the lcore has launched (test/l2fwd-start.test.ts);
    // from then on 4096 RX buffers at 5 kpps are 800 ms of frames.
    const count = 5000;
    const r = await runL2fwd([
      "-l", "0",
      "--vdev", `virtio0,wire=gen,count=${count},rate=5000,size=64:128:1518,queue_size=4096`,
      "--vdev", "virtio1,wire=sink,check=1,queue_size=4096",
      "--", "-p", "0x3", "-q", "2", "-T", "0", "--json",
    ]);
    expect(r.code).toBe(0);
    const s = lastJson(r.stdout);
    const [p0, p1] = s.ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx! + p0.missed!).toBe(count);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    expect(p1.tx).toBe(p1.wire_delivered);
    expect(p0.missed).toBe(0);
    expect(p1.dropped).toBe(0);
    expect(p1.wire_delivered).toBe(count);
    expect(r.stdout).toContain("Bye...");
  });

  it("conserves packets when the generator overruns the ring", async () => {
    const count = 200_000;
    const r = await runL2fwd([
      "-l", "0",
      "--vdev", `virtio0,wire=gen,count=${count},rate=50M`,
      "--vdev", "virtio1,wire=sink",
      "--", "-p", "0x3", "-q", "2", "-T", "0", "--json", "--burst", "4",
    ]);
    expect(r.code).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx! + p0.missed!).toBe(count);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    expect(p1.tx).toBe(p1.wire_delivered);
    expect(p0.rx).toBeGreaterThan(0);
  });
});

describe("l2fwd signals", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal}: stops the lcores, drains, prints final statistics and exits 0`, async () => {
      const child = ownedChild(spawn(process.execPath, [
        L2FWD, "-l", "0",
        "--vdev", "virtio0,wire=gen,rate=50000", "--vdev", "virtio1,wire=sink",
        "--", "-p", "0x3", "-q", "2", "-T", "1", "--json",
      ], { stdio: ["ignore", "pipe", "pipe"] }));
      let stdout = "";
      child.stdout.on("data", (d) => (stdout += d));
      // Wait for the first statistics line: the lcores are forwarding.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no statistics within 30 s:\n${stdout}`)), 30_000);
        child.stdout.on("data", () => {
          if (stdout.includes('{"t"')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(stdout).toContain(`Signal ${signal === "SIGINT" ? 2 : 15} received, preparing to exit...`);
      expect(stdout).toContain("Bye...");
      expect(code).toBe(0);
      const [p0, p1] = lastJson(stdout).ports as [Record<string, number>, Record<string, number>];
      expect(p0.rx).toBeGreaterThan(0);
      expect(p0.rx).toBe(p1.tx! + p1.dropped!);
      expect(p1.tx).toBe(p1.wire_delivered);
    });
  }
});

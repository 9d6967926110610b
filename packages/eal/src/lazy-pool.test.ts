import { describe, expect, it } from "vitest";
import { runChild } from "@tpdk/testing/child";

/**
 * piscina (the lcore threads' pool) is loaded by Eal.init, not by importing @tpdk/eal: the device
 * thread and each lcore thread's forwarding loop import @tpdk/eal (through @tpdk/vhost, @tpdk/mbuf,
 * @tpdk/virtio-pmd) and never make a pool, and loading piscina's CommonJS graph was CPU in every
 * thread's start-up (apps/l2fwd/README.md, "Start-up under load, the phases"). Checked in a fresh process
 * (vitest's own process has piscina loaded): CommonJS modules an ES import loads are in the
 * require cache.
 */
describe("@tpdk/eal loads piscina only when an Eal is created", () => {
  it("importing the packages the device and lcore threads load does not load piscina; Eal.init does (child process)", async () => {
    const script = `
      import { createRequire } from "node:module";
      const cache = createRequire(import.meta.url).cache;
      const piscinaLoaded = () => Object.keys(cache).some((k) => /[\\\\/]piscina[\\\\/]/.test(k));
      const { Eal } = await import("@tpdk/eal");
      await import("@tpdk/vhost");
      await import("@tpdk/virtio-pmd");
      const afterImport = piscinaLoaded();
      const eal = Eal.init({ lcores: [0], memoryMb: 2, noPin: true });
      await eal.ready();
      const afterInit = piscinaLoaded();
      await eal.close();
      console.log(JSON.stringify({ afterImport, afterInit }));`;
    const r = await runChild(script, [], 30_000);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toEqual({ afterImport: false, afterInit: true });
  }, 30_000);
});

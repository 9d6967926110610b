import fs from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BACKOFF_SPIN_PASSES } from "./backoff.js";
import { lcoreWakeIndex } from "./control.js";
import { Eal } from "./eal.js";
import { TpdkError } from "./errors.js";
import { LCORE_ID_ANY, lcoreId } from "./lcore-id.js";
import { allowedCpus } from "./pin.js";
import { type CountResult, LCORE_FIXTURE_URL } from "@tpdk/testing/eal";
import { until } from "@tpdk/testing/until";

const FIXTURE = LCORE_FIXTURE_URL;
const hasTaskset = fs.existsSync("/usr/bin/taskset");

describe("Eal lcores", () => {
  const eal = Eal.init({ lcores: [0, 1], memoryMb: 4 });
  afterAll(() => eal.close());
  // A failed test must not leave lcores running into the next one.
  afterEach(async () => {
    eal.stop();
    await eal.wait().catch(() => {});
  });

  it("launches one pinned thread per lcore, stops them and collects results", async () => {
    const z = eal.mem.reserve("test.ids", 64 * 16);
    const w = z.offset >>> 2;
    const infos = await eal.launch(FIXTURE, "countUntilStopped", () => ({ zone: "test.ids" }));
    expect(infos.map((i) => [i.lcoreId, i.cpu])).toEqual([[0, 0], [1, 1]]);
    expect(eal.lcoreInfo()).toEqual(infos);
    for (const i of infos) {
      expect(i.tid).toBeGreaterThan(0);
      if (hasTaskset && allowedCpus().includes(i.cpu)) {
        expect(i.pinned).toBe(true);
        expect(i.affinity).toBe(String(i.cpu));
        expect(i.reason).toBeUndefined();
      } else {
        expect(i.pinned).toBe(false);
        expect(i.reason).toMatch(hasTaskset ? /not available to this process/ : /taskset/);
      }
    }
    expect(infos[0]!.tid).not.toBe(infos[1]!.tid);

    // Both lcores run and keep passing through their loops, past the backoff's spin passes: the
    // second idle() after them sleeps (the first may find the wake word moved), so `sleeps` below is
    // not a race with how soon this thread looks (a stop seen within the spins left it 0: fresh-clone
    // CI of 2b8a468 on a loaded machine).
    const past = BACKOFF_SPIN_PASSES + 3;
    await until(() => Atomics.load(eal.mem.i32, w + 3) > past && Atomics.load(eal.mem.i32, w + 4 + 3) > past, 20_000, "loop passes");
    expect(eal.stopped()).toBe(false);
    eal.stop();
    expect(eal.stopped()).toBe(true);
    const results = (await eal.wait()) as CountResult[];
    expect(results.map((r) => [r.lcoreId, r.tlsLcoreId])).toEqual([[0, 0], [1, 1]]);
    for (const r of results) {
      expect(r.passes).toBeGreaterThan(past);
      expect(r.pinned).toBe(infos[r.lcoreId]!.pinned);
      expect(r.sleeps).toBeGreaterThan(0); // an idle lcore backs off instead of spinning
    }
    // What the lcores wrote in shared memory: [lcoreId, lcoreId() on the thread, started, passes].
    expect(Array.from(eal.mem.i32.subarray(w, w + 3))).toEqual([0, 0, 1]);
    expect(Array.from(eal.mem.i32.subarray(w + 4, w + 7))).toEqual([1, 1, 1]);
    expect(Atomics.load(eal.mem.i32, w + 3)).toBe(results[0]!.passes);
    // The main thread is not an lcore.
    expect(lcoreId()).toBe(LCORE_ID_ANY);
  });

  it("passes each lcore its own argument and can launch again", async () => {
    await eal.launch(FIXTURE, "echo", (id) => ({ id, tag: `for-${id}` }));
    expect(await eal.wait()).toEqual([
      { lcoreId: 0, arg: { id: 0, tag: "for-0" } },
      { lcoreId: 1, arg: { id: 1, tag: "for-1" } },
    ]);
  });

  it("an lcore that throws rejects wait() naming the lcore; the others are stopped", async () => {
    await eal.launch(FIXTURE, "failOnLcore1");
    const err = await eal.wait().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TpdkError);
    expect((err as TpdkError).message).toBe("lcore 1: boom on purpose");
    expect((err as TpdkError).code).toBe("EBOOM");
    expect(eal.stopped()).toBe(true);
  });

  it("launch rejects a missing export and refuses to launch twice", async () => {
    await expect(eal.launch(FIXTURE, "noSuchExport")).rejects.toThrow(/does not export a function named noSuchExport/);
    await eal.wait().catch(() => {});
    await eal.launch(FIXTURE, "countUntilStopped", () => ({ zone: "test.ids" }));
    await expect(eal.launch(FIXTURE, "echo")).rejects.toThrow(/still running/);
    eal.stop();
    await eal.wait();
  });

  it("a non-cloneable argument rejects launch naming the lcore", async () => {
    await expect(eal.launch(FIXTURE, "echo", (id) => (id === 1 ? () => 1 : 0))).rejects.toThrow(/^lcore 1: .*could not be cloned/);
    await expect(eal.wait()).rejects.toThrow(/^lcore 1: /);
    // Still usable afterwards.
    await eal.launch(FIXTURE, "echo", (id) => id * 10);
    expect(await eal.wait()).toEqual([{ lcoreId: 0, arg: 0 }, { lcoreId: 1, arg: 10 }]);
  });

  it("serviceCpu avoids lcore CPUs; wake words are per lcore", () => {
    const cpu = eal.serviceCpu();
    expect(eal.lcores.includes(cpu)).toBe(false);
    const one = Eal.init({ lcores: [0], memoryMb: 2 });
    expect(one.serviceCpu()).not.toBe(0);
    expect(lcoreWakeIndex(eal.mem, 1) - lcoreWakeIndex(eal.mem, 0)).toBe(16);
    void one.close();
  });
});

describe("Eal lcore threads exist from init (rte_eal_init)", () => {
  it("creates, pins and preloads the threads at init; launch reuses them", async () => {
    const eal = Eal.init({ lcores: [0, 1], memoryMb: 2, noPin: true }, { preload: [FIXTURE] });
    try {
      const ready = await eal.ready();
      expect(ready.map((i) => i.lcoreId)).toEqual([0, 1]);
      const before = Date.now();
      for (const launch of [1, 2]) {
        const infos = await eal.launch(FIXTURE, "threadState");
        expect(infos).toEqual(ready);
        const states = (await eal.wait()) as { tid: number; loadedAt: number; runs: number }[];
        // The same threads each time, the module loaded once, before the first launch.
        expect(states.map((s) => s.tid)).toEqual(ready.map((i) => i.tid));
        expect(states.map((s) => s.runs)).toEqual([launch, launch]);
        for (const s of states) expect(s.loadedAt).toBeLessThanOrEqual(before);
      }
    } finally {
      await eal.close();
    }
  });

  it("a module that cannot be preloaded rejects ready() and launch() naming the lcore", async () => {
    const eal = Eal.init({ lcores: [0], memoryMb: 2, noPin: true }, { preload: [new URL("./no-such-module.js", FIXTURE)] });
    try {
      await expect(eal.ready()).rejects.toThrow(/^lcore 0: cannot load .*no-such-module\.js/);
      await expect(eal.launch(FIXTURE, "echo")).rejects.toThrow(/^lcore 0: cannot load/);
    } finally {
      await eal.close();
    }
  });
});

describe("Eal --no-pin", () => {
  it("runs unpinned with the reason recorded", async () => {
    const eal = Eal.init({ lcores: [0, 1], memoryMb: 2, noPin: true });
    try {
      const infos = await eal.launch(FIXTURE, "echo");
      for (const i of infos) expect(i).toMatchObject({ pinned: false, reason: "--no-pin" });
      await eal.wait();
    } finally {
      await eal.close();
    }
  });

  it("an lcore on a CPU the machine lacks runs unpinned", async () => {
    const eal = Eal.init({ lcores: [63], memoryMb: 2 });
    try {
      const [info] = await eal.launch(FIXTURE, "echo");
      expect(info!.pinned).toBe(false);
      expect(info!.reason).toMatch(/cpu 63 is not available/);
      expect(await eal.wait()).toEqual([{ lcoreId: 63, arg: undefined }]);
    } finally {
      await eal.close();
    }
  });
});

import { readFileSync } from "node:fs";
import { native, nativeMissingReason } from "@tpdk/native";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Eal } from "./eal.js";
import { MEMORY_MAX_BYTES } from "./memory.js";
import { createSharedMemory, HUGEPAGE_BYTES, hugepageNotice } from "./shared-memory.js";
import { type CountResult, LCORE_FIXTURE_URL } from "@tpdk/testing/eal";
import { until } from "@tpdk/testing/until";
import { runOwned } from "@tpdk/testing/owned";

const FIXTURE = LCORE_FIXTURE_URL;
const EAL_DIST = new URL("../dist/index.js", import.meta.url);
const MB = 1 << 20;
const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

/** Free 2 MB hugepages right now (0 without hugetlbfs). */
function freeHugepages(): number {
  try {
    const m = /HugePages_Free:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

describe.skipIf(native === null)(`EAL memory on a memfd${skipNote}`, () => {
  const n = native!;
  const eals: Eal[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const e of eals.splice(0)) {
      e.stop();
      await e.wait().catch(() => {});
      await e.close();
    }
  });

  it("sharedMemory + noHuge: a sealed 4 KB-page memfd whose second mapping sees the zones; no notice", () => {
    const err = vi.spyOn(process.stderr, "write");
    const eal = Eal.init({ sharedMemory: true, noHuge: true, memoryMb: 4 });
    eals.push(eal);
    expect(err).not.toHaveBeenCalled();
    expect(eal.memoryFd).toBeGreaterThanOrEqual(0);
    expect(eal.memoryHuge).toBe(false);
    expect(eal.mem.size).toBe(4 * MB);
    expect(n.fileSize(eal.memoryFd)).toBe(4 * MB);
    const seals = n.getSeals(eal.memoryFd);
    expect(seals & (n.F_SEAL_SHRINK | n.F_SEAL_GROW)).toBe(n.F_SEAL_SHRINK | n.F_SEAL_GROW);
    // The seals are final (F_SEAL_SEAL, as QEMU's memory-backend-memfd): a peer that holds the fd (a
    // vhost-user back-end) cannot add F_SEAL_FUTURE_WRITE (Linux 5.1), which would refuse every later
    // writable mapping, a reconnecting back-end's included.
    const F_SEAL_FUTURE_WRITE = 0x10;
    expect(() => n.addSeals(eal.memoryFd, F_SEAL_FUTURE_WRITE)).toThrow(expect.objectContaining({ code: "EPERM" }));
    n.unmapShared(n.mmapShared(eal.memoryFd, 4 * MB, 0));
    const z = eal.mem.reserve("test.zone", 4096);
    eal.mem.u32[(z.offset >>> 2) + 1] = 0xabcdef;
    const other = new Uint32Array(n.mmapShared(eal.memoryFd, 4 * MB, 0));
    expect(other[(z.offset >>> 2) + 1]).toBe(0xabcdef);
    expect(other[0]).toBe(eal.mem.u32[0]); // the header (magic) too
  });

  it("hugepages first: used when free, else 4 KB pages and exactly one notice line", () => {
    const notices: string[] = [];
    const wantHuge = freeHugepages() >= 2; // -m 3 rounds up to 4 MB = 2 hugepages
    const s = createSharedMemory(3, false, (l) => notices.push(l));
    try {
      if (wantHuge && s.hugepages) {
        expect(notices).toEqual([]);
        expect(s.mem.size).toBe(4 * MB);
        expect(n.fileSize(s.fd)).toBe(4 * MB);
      } else {
        // No free hugepages here (or a limit the kernel only reports on mapping).
        expect(notices).toEqual([hugepageNotice(3)]);
        expect(notices[0]).toBe("EAL: no free 2 MB hugepages for -m 3 MB; using 4 KB pages (memfd)");
        expect(s.hugepages).toBe(false);
        expect(s.mem.size).toBe(3 * MB);
      }
    } finally {
      n.close(s.fd);
    }
    expect(MEMORY_MAX_BYTES - (MEMORY_MAX_BYTES % HUGEPAGE_BYTES)).toBe(4094 * MB); // -m 4095 with hugepages: 4094 MB
  });

  it("Eal.init prints the fallback notice on stderr once, only when hugepages were not disabled", () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const eal = Eal.init({ sharedMemory: true, memoryMb: 2 });
    eals.push(eal);
    const lines = err.mock.calls.map((c) => String(c[0]));
    if (eal.memoryHuge) expect(lines).toEqual([]);
    else expect(lines).toEqual([`${hugepageNotice(2)}\n`]);
  });

  it("a real lcore runs Atomics on the memfd memory; another mapping sees its stores", async () => {
    const eal = Eal.init({ sharedMemory: true, noHuge: true, memoryMb: 4, lcores: [0] });
    eals.push(eal);
    const z = eal.mem.reserve("test.ids", 64 * 16);
    const view = new Int32Array(n.mmapShared(eal.memoryFd, 4 * MB, 0)); // as a back-end would map it
    const w = z.offset >>> 2;
    const infos = await eal.launch(FIXTURE, "countUntilStopped", () => ({ zone: "test.ids" }));
    expect(infos.map((i) => i.lcoreId)).toEqual([0]);
    await until(() => Atomics.load(view, w + 2) === 1 && Atomics.load(view, w + 3) > 1, 20_000, "the lcore to count");
    eal.stop();
    const [r] = (await eal.wait()) as CountResult[];
    expect(r!.lcoreId).toBe(0);
    expect(Atomics.load(view, w + 3)).toBe(r!.passes);
  });

  it("close() closes the memfd (memoryFd -1); the memory stays readable", async () => {
    const eal = Eal.init({ sharedMemory: true, noHuge: true, memoryMb: 2 });
    const fd = eal.memoryFd;
    const z = eal.mem.reserve("z", 64);
    eal.mem.u8[z.offset] = 9;
    await eal.close();
    expect(eal.memoryFd).toBe(-1);
    expect(() => n.fileSize(fd)).toThrow(expect.objectContaining({ code: "EBADF" }));
    expect(eal.mem.u8[z.offset]).toBe(9);
  });

  it("a plain EAL has no memfd", async () => {
    const eal = Eal.init({ memoryMb: 2 });
    eals.push(eal);
    expect(eal.memoryFd).toBe(-1);
    expect(eal.memoryHuge).toBe(false);
  });
});

describe("EAL without the native addon (TPDK_NATIVE_DISABLE=1, in a child process)", () => {
  it("sharedMemory fails with ENOTSUP and the one-line reason; a plain EAL still works", async () => {
    const code = `import(${JSON.stringify(EAL_DIST.href)}).then(async ({ Eal }) => {
      const plain = Eal.init({ memoryMb: 2 });
      console.log(JSON.stringify({ fd: plain.memoryFd, size: plain.mem.size }));
      await plain.close();
      try { Eal.init({ memoryMb: 2, sharedMemory: true }); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, msg: e.message })); }
    });`;
    const r = await runOwned(process.execPath, ["-e", code], { env: { ...process.env, TPDK_NATIVE_DISABLE: "1" }, timeoutMs: 20_000 });
    expect(r.stderr).toBe("");
    const [plain, failed] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(plain).toEqual({ fd: -1, size: 2 * MB });
    expect(failed).toEqual({
      name: "TpdkError",
      code: "ENOTSUP",
      msg: "EAL shared memory (memfd) needs the native addon @tpdk/native: disabled by TPDK_NATIVE_DISABLE; rebuild with: pnpm --filter @tpdk/native rebuild",
    });
  });
});

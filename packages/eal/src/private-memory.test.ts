import { readFileSync } from "node:fs";
import { native, nativeMissingReason } from "@tpdk/native";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Eal } from "./eal.js";
import { createPrivateMemory } from "./private-memory.js";
import { MEMFD_NAME } from "./shared-memory.js";

const MB = 1 << 20;
const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

/** This process's mappings of a memfd named MEMFD_NAME, by length: start addresses. */
function memfdMappings(): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    if (!line.includes(`/memfd:${MEMFD_NAME}`)) continue;
    const [a, b] = line.split(" ")[0]!.split("-").map((x) => Number.parseInt(x, 16));
    const len = b! - a!;
    out.set(len, [...(out.get(len) ?? []), a!]);
  }
  return out;
}

describe.skipIf(native === null)(`EAL memory without sharedMemory: page-aligned${skipNote}`, () => {
  afterEach(() => vi.restoreAllMocks());

  it("Eal.init maps a private memfd of 4 KB pages (a mapping starts at a page), no fd kept, no output", async () => {
    const err = vi.spyOn(process.stderr, "write");
    // An odd size no other test maps: its mapping is this EAL's.
    const before = memfdMappings().get(7 * MB)?.length ?? 0;
    const eal = Eal.init({ memoryMb: 7 });
    try {
      expect(eal.memoryFd).toBe(-1);
      expect(eal.memoryHuge).toBe(false);
      expect(eal.mem.size).toBe(7 * MB);
      const starts = memfdMappings().get(7 * MB) ?? [];
      expect(starts.length).toBe(before + 1);
      expect(starts.every((a) => a % 4096 === 0)).toBe(true);
      // Zones work as on a SharedArrayBuffer.
      const z = eal.mem.reserve("test.zone", 4096);
      Atomics.store(eal.mem.i32, z.offset >>> 2, 42);
      expect(Atomics.load(eal.mem.i32, z.offset >>> 2)).toBe(42);
      expect(err).not.toHaveBeenCalled();
    } finally {
      eal.stop();
      await eal.wait().catch(() => {});
      await eal.close();
    }
  });

  it("falls back to a SharedArrayBuffer when the memfd cannot be had", () => {
    vi.spyOn(native!, "memfdCreate").mockImplementation(() => {
      throw new Error("memfd_create: ENOSYS");
    });
    const before = memfdMappings().get(5 * MB)?.length ?? 0;
    const mem = createPrivateMemory(5);
    expect(mem.size).toBe(5 * MB);
    expect(memfdMappings().get(5 * MB)?.length ?? 0).toBe(before);
    expect(mem.reserve("test.zone", 64).offset % 64).toBe(0);
  });
});

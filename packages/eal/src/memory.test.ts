import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { Eal } from "./eal.js";
import { TpdkError } from "./errors.js";
import { Memory } from "./memory.js";
import { LCORE_FIXTURE_URL } from "@tpdk/testing/eal";

function errCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TpdkError);
    return (e as TpdkError).code;
  }
  throw new Error("expected a TpdkError");
}

describe("Memory", () => {
  it("reserves aligned, zero-filled zones and looks them up", () => {
    const m = Memory.create(1 << 20);
    const a = m.reserve("a", 10);
    const b = m.reserve("b", 100, 4096);
    const c = m.reserve("c", 1, 8);
    expect(a.offset).toBeGreaterThan(0);
    expect(a.offset % 64).toBe(0);
    expect(b.offset % 4096).toBe(0);
    expect(b.offset).toBeGreaterThanOrEqual(a.offset + 10);
    expect(c.offset % 8).toBe(0);
    expect(c.offset).toBeGreaterThanOrEqual(b.offset + 100);
    expect(m.lookup("b")).toEqual({ name: "b", offset: b.offset, length: 100 });
    expect(m.lookup("nope")).toBeUndefined();
    expect(errCode(() => m.zone("nope"))).toBe("ENOENT");
    expect(m.zones().map((z) => z.name)).toEqual(["a", "b", "c"]);
    expect(m.u8.subarray(b.offset, b.offset + 100).every((x) => x === 0)).toBe(true);
  });
  it("reports EEXIST, ENOMEM and EINVAL", () => {
    const m = Memory.create(1 << 20);
    m.reserve("x", 64);
    expect(errCode(() => m.reserve("x", 64))).toBe("EEXIST");
    expect(errCode(() => m.reserve("big", 2 << 20))).toBe("ENOMEM");
    expect(errCode(() => m.reserve("odd", 64, 3))).toBe("EINVAL");
    expect(errCode(() => m.reserve("", 64))).toBe("EINVAL");
    expect(errCode(() => m.reserve("zero", 0))).toBe("EINVAL");
    expect(errCode(() => Memory.create(1000))).toBe("EINVAL");
    // Failed reservations leave the allocator untouched.
    const free = m.free;
    m.reserve("fits", free - 64, 8);
    expect(m.free).toBe(64);
    expect(errCode(() => m.reserve("one-too-many", 65, 8))).toBe("ENOMEM");
    m.reserve("last", 64, 8);
    expect(m.free).toBe(0);
  });
  it("attach rejects foreign buffers", () => {
    expect(errCode(() => Memory.attach(new SharedArrayBuffer(1 << 16)))).toBe("EINVAL");
    const m = Memory.create(1 << 20);
    const z = m.reserve("same", 32);
    expect(Memory.attach(m.sab).lookup("same")).toEqual(z);
  });
});

/** This process's anonymous read-write mappings (no file) of exactly `length` bytes: their start addresses. */
function anonymousMappingsOf(length: number): number[] {
  const out: number[] = [];
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 5 || !f[1]!.startsWith("rw")) continue;
    const [a, b] = f[0]!.split("-").map((x) => Number.parseInt(x, 16));
    if (b! - a! === length) out.push(a!);
  }
  return out;
}

describe.skipIf(process.platform !== "linux")("Memory.create: line-aligned (reads /proc/self/maps; Linux only)", () => {
  it("its buffer is a mapping of its own, exactly its size, so its first byte starts a page", () => {
    // A plain SharedArrayBuffer of this size is a calloc'd block 16 bytes into a mapping one page
    // larger (glibc): every offset aligned to 64 would be 16 mod 64 in the address space.
    const size = 11 << 20; // a size no other test maps
    const before = anonymousMappingsOf(size).length;
    const m = Memory.create(size);
    expect(m.size).toBe(size);
    const starts = anonymousMappingsOf(size);
    expect(starts.length).toBe(before + 1);
    expect(starts.every((a) => a % 4096 === 0)).toBe(true);
    const z = m.reserve("line", 64, 64);
    Atomics.store(m.i32, z.offset >>> 2, 7);
    expect(Atomics.load(m.i32, z.offset >>> 2)).toBe(7);
  });

  it("rounds a size that is not a whole number of 64 KB pages up", () => {
    expect(Memory.create((3 << 20) + 4096).size).toBe((3 << 20) + 65536);
  });

  it("is what Eal.init takes without sharedMemory: no fd, a mapping of its own at a page", async () => {
    const size = 7 << 20; // a size no other test maps
    const before = anonymousMappingsOf(size).length;
    const eal = Eal.init({ memoryMb: 7 });
    try {
      expect(eal.memoryFd).toBe(-1);
      expect(eal.memoryHuge).toBe(false);
      expect(eal.mem.size).toBe(size);
      const starts = anonymousMappingsOf(size);
      expect(starts.length).toBe(before + 1);
      expect(starts.every((a) => a % 4096 === 0)).toBe(true);
    } finally {
      eal.stop();
      await eal.wait().catch(() => {});
      await eal.close();
    }
  });
});

describe("Memory across threads", () => {
  const eal = Eal.init({ lcores: [0, 1], memoryMb: 4, noPin: true });
  afterAll(() => eal.close());

  it("workers see the main thread's zones and the main thread sees theirs", async () => {
    const z = eal.mem.reserve("main.zone", 123, 1024);
    await eal.launch(LCORE_FIXTURE_URL, "zonesSeen", () => ({ reserve: "w" }));
    const results = (await eal.wait()) as { seen: { name: string; offset: number }[]; own: { name: string; offset: number } }[];
    for (const r of results) expect(r.seen).toContainEqual({ name: "main.zone", offset: z.offset, length: 123 });
    expect(eal.mem.lookup("w0")).toEqual({ name: "w0", offset: results[0]!.own.offset, length: 100 });
    expect(eal.mem.lookup("w1")).toEqual({ name: "w1", offset: results[1]!.own.offset, length: 100 });
    expect(results[0]!.own.offset % 256).toBe(0);
    expect(results[0]!.own.offset).not.toBe(results[1]!.own.offset);
  });
});

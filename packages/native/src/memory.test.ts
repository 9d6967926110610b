import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { FILE_SLOT_ALIGN, fileSlots, native, nativeBinaryPath, nativeMissingReason, NativeError } from "./index.js";
// @tpdk/testing depends on this package: its owned.ts by path (a child run owned and bounded).
import { runOwned } from "../../../test/support/src/e2e/owned.js";

const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

const BINARY = nativeBinaryPath;
const MB = 1 << 20;

describe.skipIf(native === null)(`memfd as a SharedArrayBuffer${skipNote}`, () => {
  const n = native!;
  const fds: number[] = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) n.close(fd);
  });

  it("memfdCreate sizes the file; mmapShared gives a SharedArrayBuffer over it", () => {
    const fd = n.memfdCreate("tpdk-test", 2 * MB);
    fds.push(fd);
    expect(n.fileSize(fd)).toBe(2 * MB);
    const sab = n.mmapShared(fd, 2 * MB, 0);
    expect(sab).toBeInstanceOf(SharedArrayBuffer);
    expect(sab.byteLength).toBe(2 * MB);
    expect(new Uint8Array(sab).every((b) => b === 0)).toBe(true);
  });

  it("mmapSharedFiles: several files side by side at fileSlots' bases, each the same bytes as its own mapping; a length past a file's end is EINVAL", () => {
    const sizes = [MB + 4096, 3 * MB, 8192];
    const f = sizes.map((sz) => n.memfdCreate("tpdk-test", sz));
    fds.push(...f);
    const { bases, total } = fileSlots(sizes);
    expect(bases).toEqual([0, 2 * MB, 6 * MB]);
    const all = n.mmapSharedFiles(f, sizes);
    expect(all.byteLength).toBe(total);
    expect(total % FILE_SLOT_ALIGN).toBe(0);
    const u8 = new Uint8Array(all);
    sizes.forEach((sz, k) => {
      const own = new Uint8Array(n.mmapShared(f[k]!, sz, 0));
      own[0] = 10 + k;
      own[sz - 1] = 20 + k;
      expect([u8[bases[k]!], u8[bases[k]! + sz - 1]]).toEqual([10 + k, 20 + k]);
      u8[bases[k]! + 5] = 30 + k;
      expect(own[5]).toBe(30 + k);
    });
    n.unmapShared(all);
    expect(u8[bases[1]! + 5]).toBe(0);
    expect(() => n.mmapSharedFiles([f[2]!], [3 * MB])).toThrow(/EINVAL|file size/);
  });

  it("a second mapping of the same fd (and one at an offset) sees the same bytes", () => {
    const fd = n.memfdCreate("tpdk-test", 2 * MB);
    fds.push(fd);
    const a = new Uint32Array(n.mmapShared(fd, 2 * MB, 0));
    const b = new Uint32Array(n.mmapShared(fd, 2 * MB, 0));
    const c = new Uint32Array(n.mmapShared(fd, 4096, MB));
    a[7] = 0xdeadbeef;
    expect(b[7]).toBe(0xdeadbeef);
    b[MB / 4 + 3] = 1234;
    expect(c[3]).toBe(1234);
    expect(a[MB / 4 + 3]).toBe(1234);
  });

  it("another process mapping the fd sees our writes and we see its writes", async () => {
    const fd = n.memfdCreate("tpdk-test", MB);
    fds.push(fd);
    const u32 = new Uint32Array(n.mmapShared(fd, MB, 0));
    u32[100] = 0x11223344;
    // The child gets the memfd as its fd 3 (spawn dup2s it, clearing CLOEXEC).
    const child = `
      const n = require(${JSON.stringify(BINARY)});
      const u32 = new Uint32Array(n.mmapShared(3, ${MB}, 0));
      if (u32[100] !== 0x11223344) { console.log("child saw " + u32[100]); process.exit(1); }
      Atomics.store(u32, 101, 0x55667788);
    `;
    const r = await runOwned(process.execPath, ["-e", child], { fds: [fd], timeoutMs: 20_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(Atomics.load(u32, 101)).toBe(0x55667788);
  });

  it("getSeals: 0 on an unsealed memfd, F_SEAL_SHRINK once added; sealing needs allowSealing", () => {
    const fd = n.memfdCreate("tpdk-test", MB, { allowSealing: true });
    fds.push(fd);
    expect(n.getSeals(fd)).toBe(0);
    n.addSeals(fd, n.F_SEAL_SHRINK | n.F_SEAL_GROW);
    expect(n.getSeals(fd) & n.F_SEAL_SHRINK).toBe(n.F_SEAL_SHRINK);
    expect(n.getSeals(fd) & n.F_SEAL_GROW).toBe(n.F_SEAL_GROW);

    const plain = n.memfdCreate("tpdk-test", MB);
    fds.push(plain);
    expect(n.getSeals(plain)).toBe(n.F_SEAL_SEAL); // the kernel seals memfds created without MFD_ALLOW_SEALING
    expect(() => n.addSeals(plain, n.F_SEAL_SHRINK)).toThrow(expect.objectContaining({ code: "EPERM" }));

    const ev = n.eventfd(0);
    fds.push(ev);
    expect(n.getSeals(ev)).toBe(0); // not a sealable file: EINVAL -> 0
  });

  it("errors are NativeErrors with errno names; bad arguments are TypeErrors", () => {
    let err: unknown;
    try {
      n.close(1 << 30);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeError);
    expect(err).toMatchObject({ code: "EBADF", errno: 9, syscall: "close", message: `close(${1 << 30}): Bad file descriptor` });
    expect(() => n.mmapShared(1 << 30, MB, 0)).toThrow(expect.objectContaining({ code: "EBADF", syscall: "mmap" }));
    const fd = n.memfdCreate("tpdk-test", MB);
    fds.push(fd);
    expect(() => n.mmapShared(fd, MB, 100)).toThrow(expect.objectContaining({ code: "EINVAL" })); // offset not page-aligned
    expect(() => n.mmapShared(fd, 0, 0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    // Past the end of the file: refused, not mapped (a touch there would be SIGBUS).
    expect(() => n.mmapShared(fd, 2 * MB, 0)).toThrow(
      expect.objectContaining({ code: "EINVAL", message: `mmap(${fd}, offset 0 + length ${2 * MB} > file size ${MB}): Invalid argument` }),
    );
    expect(() => n.mmapShared(fd, MB, 4096)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(n.mmapShared(fd, MB - 4096, 4096).byteLength).toBe(MB - 4096);
    expect(() => n.fileSize("3" as unknown as number)).toThrow(TypeError);
    expect(() => n.memfdCreate("x", -1)).toThrow(RangeError);
    expect(() => n.memfdCreate("x", MB, { hugetlb: 1 as unknown as boolean })).toThrow(TypeError);
  });
});

describe.skipIf(native === null)(`mappings are released${skipNote}`, () => {
  it("a collected SharedArrayBuffer unmaps its memory (no mapping leak), in a child process with --expose-gc", async () => {
    const child = `
      const n = require(${JSON.stringify(BINARY)});
      const fs = require("node:fs");
      const count = () => fs.readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => l.includes("memfd:tpdk-gc")).length;
      const fd = n.memfdCreate("tpdk-gc", 16 << 20);
      for (let i = 0; i < 40; i++) new Uint8Array(n.mmapShared(fd, 16 << 20, 0))[i] = 1;
      const before = count();
      const settle = (k) => { globalThis.gc(); if (count() > 2 && k > 0) return setTimeout(() => settle(k - 1), 20); console.log(JSON.stringify({ before, after: count() })); };
      settle(100);
    `;
    const r = await runOwned(process.execPath, ["--expose-gc", "-e", child], { timeoutMs: 20_000 });
    expect(r.stderr).toBe("");
    const { before, after } = JSON.parse(r.stdout) as { before: number; after: number };
    expect(before).toBeGreaterThan(2); // some were still mapped before collection
    expect(after).toBeLessThanOrEqual(2);
  });
});

describe.skipIf(native === null)(`unmapShared${skipNote}`, () => {
  const n = native!;

  it("releases the file's pages at once; the buffer stays valid and reads zeros; the file keeps its bytes", () => {
    const fd = n.memfdCreate("tpdk-revoke", MB);
    try {
      const sab = n.mmapShared(fd, MB, 0);
      const u32 = new Uint32Array(sab);
      u32[3] = 42;
      const maps = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("memfd:tpdk-revoke")).length;
      expect(maps()).toBe(1);
      n.unmapShared(sab);
      expect(maps()).toBe(0); // no longer backed by the file
      expect(u32[3]).toBe(0);
      u32[4] = 7; // writable private memory: no fault
      expect(Atomics.load(u32, 4)).toBe(7);
      n.unmapShared(sab); // again: still ours, still harmless
      const again = new Uint32Array(n.mmapShared(fd, MB, 0));
      expect(again[3]).toBe(42); // the file's bytes were not touched
      expect(again[4]).toBe(0);
    } finally {
      n.close(fd);
    }
  });

  it("refuses buffers it did not map", () => {
    expect(() => n.unmapShared(new SharedArrayBuffer(4096))).toThrow(TypeError);
    expect(() => n.unmapShared(new ArrayBuffer(8) as unknown as SharedArrayBuffer)).toThrow(TypeError);
  });
});

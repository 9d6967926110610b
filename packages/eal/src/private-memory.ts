import { native } from "@tpdk/native";
import { Memory } from "./memory.js";
import { MEMFD_NAME } from "./shared-memory.js";

/**
 * EAL memory no other process maps (Eal.init without sharedMemory), on
 * page-aligned memory, so that what the EAL and the drivers align to 64
 * bytes (zones, mbuf headers and data, rings) is aligned to the CPU's cache
 * lines too. A plain SharedArrayBuffer is not: V8 takes its backing store
 * from calloc, and glibc hands a large block out 16 bytes past the start of
 * its mapping (a 256 MB buffer is a 256 MB + 4 KB mapping), so every offset
 * that is 0 mod 64 is 16 mod 64 in the address space: a frame's first 64
 * bytes and every mbuf header span two lines, and a thread touching a
 * frame's first byte has not brought in its bytes 48.. (bench/README.md,
 * "Session 21: pipeline": the built-in pipeline's sink waited on that second
 * line).
 *
 * With the native addon: a memfd of 4 KB pages mapped MAP_SHARED
 * (shared-memory.ts without hugepages; the fd closed at once, the mapping
 * stays), lazily faulted as a SharedArrayBuffer is. Without the addon, or
 * when the memfd cannot be had, the SharedArrayBuffer as before (Memory.create
 * and its ENOMEM).
 */
export function createPrivateMemory(memoryMb: number): Memory {
  const size = memoryMb * 1024 * 1024;
  const n = native;
  if (n !== null) {
    let fd = -1;
    try {
      fd = n.memfdCreate(MEMFD_NAME, size, { hugetlb: false, allowSealing: false });
      return Memory.createOver(n.mmapShared(fd, size, 0, { populate: false }));
    } catch {
      // No memfd (seccomp, an old kernel) or no memory for it: the SharedArrayBuffer below.
    } finally {
      if (fd >= 0) n.close(fd);
    }
  }
  return Memory.create(size);
}

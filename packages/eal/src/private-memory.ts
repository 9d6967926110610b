import { native } from "@tpdk/native";
import { Memory } from "./memory.js";
import { MEMFD_NAME } from "./shared-memory.js";

/**
 * EAL memory no other process maps (Eal.init without sharedMemory), on
 * page-aligned memory, so that what the EAL and the drivers align to 64
 * bytes (zones, mbuf headers and data, rings) is aligned to the CPU's cache
 * lines too (a plain `new SharedArrayBuffer` is not: memory.ts,
 * allocateLineAligned).
 *
 * With the native addon: a memfd of 4 KB pages mapped MAP_SHARED
 * (shared-memory.ts without hugepages; the fd closed at once, the mapping
 * stays), lazily faulted as a SharedArrayBuffer is. Without the addon, or
 * when the memfd cannot be had, Memory.create (a shared WebAssembly.Memory's
 * buffer, page-aligned too; its ENOMEM).
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
      // No memfd (seccomp, an old kernel) or no memory for it: Memory.create below.
    } finally {
      if (fd >= 0) n.close(fd);
    }
  }
  return Memory.create(size);
}

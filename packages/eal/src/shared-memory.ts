import { requireNative, type NativeBinding } from "@tpdk/native";
import { TpdkError } from "./errors.js";
import { MEMORY_MAX_BYTES, Memory } from "./memory.js";

/**
 * EAL memory that another process can map (Eal.init({ sharedMemory: true })):
 * a memfd named "tpdk-eal", mapped MAP_SHARED and wrapped in a
 * SharedArrayBuffer by @tpdk/native, so lcore workers, Atomics and every view
 * work as on a plain SharedArrayBuffer, and a vhost-user back-end given the
 * fd maps the same bytes (one memory region; a bus address stays an offset).
 *
 * 2 MB hugepages first (as DPDK's EAL; fewer TLB misses for the back-end too)
 * unless --no-huge; when the machine has none free, 4 KB pages with one notice
 * line. The file is sealed against shrinking and growing where the kernel
 * allows it, so no process holding the fd can truncate it under our mapping
 * (which would be SIGBUS, fatal for Node).
 */

export const MEMFD_NAME = "tpdk-eal";
export const HUGEPAGE_BYTES = 2 << 20;
const MB = 1 << 20;

export interface SharedMemory {
  readonly mem: Memory;
  /** The memfd (owned by the EAL; closeSharedMemoryFd closes it). */
  readonly fd: number;
  /** True when backed by 2 MB hugepages. */
  readonly hugepages: boolean;
}

export function hugepageNotice(memoryMb: number): string {
  return `EAL: no free 2 MB hugepages for -m ${memoryMb} MB; using 4 KB pages (memfd)`;
}

/**
 * Create `memoryMb` MB of EAL memory on a memfd. Throws TpdkError ENOTSUP
 * (the addon is missing, with its one-line reason) or ENOMEM (cannot be had).
 * `notice` receives the one hugepage fallback line (default: stderr).
 */
export function createSharedMemory(
  memoryMb: number,
  noHuge: boolean,
  notice: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): SharedMemory {
  let n: NativeBinding;
  try {
    n = requireNative("EAL shared memory (memfd)");
  } catch (e) {
    throw new TpdkError("ENOTSUP", (e as Error).message, { cause: e });
  }
  const bytes = memoryMb * MB;
  if (!noHuge) {
    // Hugetlb files and mappings are whole 2 MB pages: round up, but stay below
    // the 32-bit bus address limit (-m 4095 gets 4094 MB of hugepages).
    const hugeBytes = Math.min(alignUp(bytes, HUGEPAGE_BYTES), MEMORY_MAX_BYTES - (MEMORY_MAX_BYTES % HUGEPAGE_BYTES));
    try {
      return { ...mapMemfd(n, hugeBytes, true), hugepages: true };
    } catch {
      // No hugetlbfs, no free pages, or a cgroup limit: fall back, once, saying so.
      notice(hugepageNotice(memoryMb));
    }
  }
  try {
    return { ...mapMemfd(n, bytes, false), hugepages: false };
  } catch (e) {
    throw new TpdkError("ENOMEM", `cannot map ${memoryMb} MB of shared memory (memfd ${MEMFD_NAME}): ${(e as Error).message}; lower -m`, {
      cause: e,
    });
  }
}

function mapMemfd(n: NativeBinding, size: number, hugetlb: boolean): { mem: Memory; fd: number } {
  const fd = n.memfdCreate(MEMFD_NAME, size, { hugetlb, allowSealing: true });
  try {
    try {
      // A peer given the fd (a vhost-user back-end maps it) can neither shrink it (SIGBUS here) nor grow
      // it, nor add seals of its own (F_SEAL_SEAL, as QEMU's memory-backend-memfd: F_SEAL_FUTURE_WRITE
      // would refuse every later writable mapping, a reconnecting back-end's included).
      n.addSeals(fd, n.F_SEAL_SHRINK | n.F_SEAL_GROW | n.F_SEAL_SEAL);
    } catch {
      // Older kernels cannot seal hugetlb memfds (EINVAL before 4.16): the memory
      // still works; only its protection against a peer's ftruncate is missing.
    }
    // Hugepages: fault them all in now, so missing pages fail here and not as
    // SIGBUS on first touch. 4 KB pages stay lazy (like a SharedArrayBuffer).
    const sab = n.mmapShared(fd, size, 0, { populate: hugetlb });
    return { mem: Memory.createOver(sab), fd };
  } catch (e) {
    n.close(fd);
    throw e;
  }
}

/** Close the EAL's memfd (the mapping stays valid until its buffers are collected). */
export function closeSharedMemoryFd(fd: number): void {
  if (fd >= 0) requireNative("EAL shared memory (memfd)").close(fd);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

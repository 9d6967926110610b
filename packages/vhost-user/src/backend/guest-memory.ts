import { fstatSync } from "node:fs";
import { type NativeBinding, fileSlots } from "@tpdk/native";
import type { MemoryRegion } from "../message.js";
import { MAX_REGIONS } from "../protocol.js";

/**
 * The front-end's memory as SET_MEM_TABLE describes it (vhost-user spec,
 * "Memory regions"): up to 8 regions, each a range of guest physical
 * addresses (what descriptors hold), the front-end's virtual address of the
 * same bytes (what SET_VRING_ADDR holds), and where they lie in the file
 * whose fd came with the message.
 *
 * tpdk maps each file of a table once, whole, from offset 0 (QEMU sends two
 * regions of one memfd, or one file per memory backend; DPDK's virtio_user
 * one memfd, or one per hugepage segment list): the files lie side by side
 * in one mapping (native.mmapSharedFiles: file k at fileSlots' base k), so
 * every region is a range of that mapping and a translation is one
 * subtraction after a range check. Control path: validation allocates;
 * translate* do not.
 */

/** Offsets in a mapping are u32 (typed-array indices): the files together must stay below 4 GiB. */
export const MAX_FILE_BYTES = 0xffff_f000;
/** 2^53: every u64 we accept is below it; sums of two such never round to a smaller value. */
const LIMIT = 2 ** 53;

/** Per region in `ranges`: guest physical [lo, hi), front-end virtual [lo, hi), offset of gpa lo in the file. */
const R_GPA_LO = 0;
const R_GPA_HI = 1;
const R_UVA_LO = 2;
const R_UVA_HI = 3;
const R_FILE_OFF = 4;
const R_FIELDS = 5;

/** What is wrong with a memory table (the message names it; the session counts it). */
export class MemTableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "MemTableError";
  }
}

/** The identity of a file behind the table (for reusing a mapping across tables). */
export interface FileKey {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
}

/** One file of a table: the fd the data path maps (its first region's), its identity, where it lies in the mapping. */
export interface TableFile {
  readonly fd: number;
  readonly key: FileKey;
  readonly base: number;
}

export class GuestMemoryTable {
  readonly regions: readonly MemoryRegion[];
  /** The distinct files, in the order of their first region; each mapped once, whole. */
  readonly files: readonly TableFile[];
  /** Bytes of the mapping that holds every file (fileSlots' total). */
  readonly mappedBytes: number;
  /** F_SEAL_SHRINK held on every file: a peer cannot shrink one under our mapping. */
  readonly sealed: boolean;
  /** Flat per-region ranges (R_* fields), made once. */
  readonly ranges: Float64Array;
  readonly n: number;

  private constructor(regions: readonly MemoryRegion[], files: readonly TableFile[], fileOf: readonly number[], mappedBytes: number, sealed: boolean) {
    this.regions = regions;
    this.files = files;
    this.mappedBytes = mappedBytes;
    this.sealed = sealed;
    this.n = regions.length;
    this.ranges = new Float64Array(MAX_REGIONS * R_FIELDS);
    regions.forEach((r, i) => {
      const o = i * R_FIELDS;
      this.ranges[o + R_GPA_LO] = r.guestPhysAddr;
      this.ranges[o + R_GPA_HI] = r.guestPhysAddr + r.memorySize;
      this.ranges[o + R_UVA_LO] = r.userspaceAddr;
      this.ranges[o + R_UVA_HI] = r.userspaceAddr + r.memorySize;
      this.ranges[o + R_FILE_OFF] = files[fileOf[i]!]!.base + r.mmapOffset;
    });
  }

  /**
   * Check a table and its fds (one per region, owned by the caller) and
   * build it. Throws MemTableError: no regions, an empty region, a range
   * that wraps or passes 2^53, regions overlapping in guest physical or
   * front-end virtual space, a region past its file's end (touching it would
   * be SIGBUS), files the lcore could not map (tried here with mapTableFiles, the
   * mapping the lcore's mapFiles makes: an fd not open O_RDWR, a file sealed against writes, a file
   * system without mmap), files of 4 GiB or more together, or (requireSealed) a file
   * not sealed against shrinking. Regions of one file (by device and inode)
   * share its one place in the mapping, whichever fd each came with.
   */
  static fromMessage(native: NativeBinding, regions: readonly MemoryRegion[], fds: readonly number[], requireSealed: boolean): GuestMemoryTable {
    if (regions.length === 0) throw new MemTableError("no regions");
    if (regions.length !== fds.length) throw new MemTableError(`${regions.length} regions but ${fds.length} file descriptors`);
    const keys: FileKey[] = [];
    const fileFds: number[] = [];
    const fileOf: number[] = [];
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (r.memorySize === 0) throw new MemTableError(`region ${i} is empty`);
      if (r.guestPhysAddr + r.memorySize > LIMIT || r.userspaceAddr + r.memorySize > LIMIT || r.mmapOffset + r.memorySize > LIMIT) {
        throw new MemTableError(`region ${i} wraps or lies above 2^53`);
      }
      let st;
      try {
        st = fstatSync(fds[i]!);
      } catch (e) {
        throw new MemTableError(`region ${i}: fstat: ${(e as Error).message}`);
      }
      if (!st.isFile()) throw new MemTableError(`region ${i}: the fd is not a regular file (memfd)`);
      const k = { dev: st.dev, ino: st.ino, size: st.size };
      let f = keys.findIndex((q) => q.dev === k.dev && q.ino === k.ino);
      if (f < 0) {
        f = keys.length;
        keys.push(k);
        fileFds.push(fds[i]!);
      }
      fileOf.push(f);
      if (r.mmapOffset + r.memorySize > keys[f]!.size) throw new MemTableError(`region ${i} ends at file offset ${r.mmapOffset + r.memorySize}, past the file's ${k.size} bytes`);
      for (let j = 0; j < i; j++) {
        const q = regions[j]!;
        if (overlaps(r.guestPhysAddr, q.guestPhysAddr, r.memorySize, q.memorySize)) throw new MemTableError(`regions ${j} and ${i} overlap in guest physical addresses`);
        if (overlaps(r.userspaceAddr, q.userspaceAddr, r.memorySize, q.memorySize)) throw new MemTableError(`regions ${j} and ${i} overlap in front-end virtual addresses`);
      }
    }
    const slots = fileSlots(keys.map((k) => k.size));
    if (slots.total > MAX_FILE_BYTES) throw new MemTableError(`the memory files have ${keys.reduce((a, k) => a + k.size, 0)} bytes (${slots.total} mapped); at most ${MAX_FILE_BYTES} are supported`);
    const sealed = fileFds.every((fd) => (native.getSeals(fd) & native.F_SEAL_SHRINK) !== 0);
    if (requireSealed && !sealed) throw new MemTableError("a memory file is not sealed against shrinking (F_SEAL_SHRINK) and sealed=1 requires it");
    // Map the files as the lcore will and let go at once: a table the lcore's mmap would refuse (EACCES: an
    // fd not open O_RDWR; EPERM: a file sealed against writes; ENODEV: a file system without mmap; EINVAL: a
    // 1 GiB hugepage file at a 2 MiB slot) is refused here, not found by an lcore's burst.
    try {
      native.unmapShared(mapTableFiles(native, fileFds, keys.map((k) => k.size)));
    } catch (e) {
      throw new MemTableError(`the memory files cannot be mapped shared, readable and writable: ${(e as Error).message}`);
    }
    const files = keys.map((key, f) => ({ fd: fileFds[f]!, key, base: slots.bases[f]! }));
    return new GuestMemoryTable(regions, files, fileOf, slots.total, sealed);
  }

  /**
   * A guest physical address range [gpa, gpa + len) as an offset into the
   * mapped file, or -1 when it is not wholly inside one region. len 0 is
   * checked as len 1 (its address must still be in a region).
   */
  translateGpa(gpa: number, len: number): number {
    return translate(this.ranges, this.n, R_GPA_LO, gpa, len);
  }

  /** The same for a front-end virtual address (ring addresses, SET_VRING_ADDR). */
  translateUva(uva: number, len: number): number {
    return translate(this.ranges, this.n, R_UVA_LO, uva, len);
  }
}

/**
 * A table's files in one shared, readable and writable mapping, as the lcore
 * uses them: one file mapped plainly, several side by side at fileSlots'
 * bases (native.mmapSharedFiles). Throws what mmap refuses.
 */
export function mapTableFiles(native: NativeBinding, fds: readonly number[], lengths: readonly number[]): SharedArrayBuffer {
  return fds.length === 1 ? native.mmapShared(fds[0]!, lengths[0]!, 0) : native.mmapSharedFiles(fds, lengths);
}

function overlaps(a: number, b: number, la: number, lb: number): boolean {
  return a < b + lb && b < a + la;
}

/** Hot-path-safe (no allocation): `lo` is R_GPA_LO or R_UVA_LO (hi follows it). */
export function translate(ranges: Float64Array, n: number, lo: number, addr: number, len: number): number {
  const end = addr + (len === 0 ? 1 : len);
  for (let i = 0; i < n; i++) {
    const o = i * R_FIELDS;
    const base = ranges[o + lo]!;
    if (addr >= base && end <= ranges[o + lo + 1]!) return ranges[o + R_FILE_OFF]! + (addr - base);
  }
  return -1;
}

export const RANGE_FIELDS = { R_GPA_LO, R_GPA_HI, R_UVA_LO, R_UVA_HI, R_FILE_OFF, R_FIELDS } as const;

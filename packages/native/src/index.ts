/**
 * @tpdk/native: the one native addon in tpdk (build/node-v<ABI>/tpdk_native.node:
 * one build per Node ABI, process.versions.modules; source src/tpdk_native.cc).
 * This module loads it once per thread and hands out the binding itself: no
 * wrapper functions, so a call costs one native call. When the addon is missing (not built, fails to load, or disabled with
 * TPDK_NATIVE_DISABLE=1) `native` is null and `nativeMissingReason` says why in
 * one line; everything that does not need it keeps working.
 *
 * See README.md for what each call guarantees (fd ownership, threads, errors).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface RecvResult {
  /** Bytes received; 0 on EOF (the peer closed), -1 when nothing is queued (EAGAIN). */
  bytes: number;
  /** Descriptors received (CLOEXEC); the caller owns them and must close them. */
  fds: number[];
  /** True when descriptors were dropped (more than maxFds, or MSG_CTRUNC); those were closed. */
  truncated: boolean;
}

export interface WatchHandle {
  /** Stop watching and close the libuv handle (not the fd). Idempotent. */
  stop(): void;
}

export interface NativeBinding {
  /** memfd_create (CLOEXEC) then ftruncate to `size`. Returns the fd (caller closes). */
  memfdCreate(name: string, size: number, opts?: { hugetlb?: boolean; allowSealing?: boolean }): number;
  /**
   * mmap PROT_READ|PROT_WRITE, MAP_SHARED; unmapped when the last SharedArrayBuffer over it is collected.
   * `populate`: fault every page in now (MADV_POPULATE_WRITE), so memory the system cannot supply is an
   * error here (ENOMEM, EFAULT) instead of SIGBUS later; ignored on kernels before 5.14.
   */
  mmapShared(fd: number, length: number, offset: number, opts?: { populate?: boolean }): SharedArrayBuffer;
  /**
   * Release a mmapShared mapping's file pages now (a peer's memory table replaced, a back-end gone),
   * without waiting for garbage collection: the range becomes private zero pages in place, so the
   * buffer and its views stay valid (reads give 0) until collected. TypeError for any other buffer.
   */
  unmapShared(sab: SharedArrayBuffer): void;
  /**
   * Several files, each from offset 0 for lengths[i] bytes, side by side in one SharedArrayBuffer:
   * file i starts at the sum of the earlier lengths each rounded up to 2 MiB (FILE_SLOT_ALIGN;
   * hugetlbfs files land on huge-page boundaries). EINVAL when a length passes its file's end.
   * Released like mmapShared's (unmapShared, or the collector).
   */
  mmapSharedFiles(fds: readonly number[], lengths: readonly number[]): SharedArrayBuffer;
  /**
   * Guard a mapping of files another process may shrink (a front-end's unsealed memfd): a SIGBUS from a
   * touch inside one of its file slots (past the file's new end) no longer kills the process. The
   * process-wide handler (installed at the first call) maps private zero pages over that file's whole
   * slot (mmapSharedFiles: its 2 MiB-aligned place, so a hugetlb file is replaced at huge-page
   * granularity; mmapShared: the mapping), adds 1 to `words[faultIndex]`, writes 1 to the eventfd whose
   * number `words[fdIndex]` holds at that moment (-1: none), and returns: the touch reads zeros. A SIGBUS
   * anywhere else still ends the process (the previous action is restored). `sab`: from mmapShared or
   * mmapSharedFiles (its file slots are those it was made with); `words`: over a SharedArrayBuffer. Both
   * buffers are kept alive until unguardMapping. Returns the registration's id. Cold: a table's first
   * burst on an lcore; ENOSPC past 1024 guarded file slots in the process.
   */
  guardMapping(sab: SharedArrayBuffer, words: Int32Array, faultIndex: number, fdIndex: number): number;
  /** Drop a guardMapping registration (idempotent; only the thread that registered it may). */
  unguardMapping(id: number): void;
  /** SIGBUS faults the guard has answered in this process (all threads). */
  guardedFaults(): number;
  /** fstat st_size. */
  fileSize(fd: number): number;
  /** fcntl F_GET_SEALS; 0 when the file cannot be sealed. */
  getSeals(fd: number): number;
  /** fcntl F_ADD_SEALS. */
  addSeals(fd: number, seals: number): void;
  /** close; EBADF throws. */
  close(fd: number): void;
  /** eventfd (CLOEXEC; nonblock default true). */
  eventfd(initval: number, opts?: { nonblock?: boolean; semaphore?: boolean }): number;
  /** Adds `value` (default 1) to the counter; false on EAGAIN (counter would overflow, non-blocking fd). */
  eventfdWrite(fd: number, value?: number): boolean;
  /**
   * The data path's kick: adds `value` (an unsigned 32-bit integer; 0 adds nothing but still wakes
   * pollers) to the counter. Never throws, allocates nothing: 0, or the errno (EBADF: fd not an
   * integer or not open; EINVAL: bad value; EAGAIN: the counter would overflow). For an lcore's hot path.
   */
  eventfdKick(fd: number, value: number): number;
  /**
   * sched_setaffinity of the calling thread to exactly `cpu` (rte_thread_set_affinity), without the
   * fork a `taskset` child costs (which leaves every private page copy-on-write). EINVAL: a CPU this
   * process may not use.
   */
  setThreadAffinity(cpu: number): void;
  /** Reads and resets the counter (semaphore: decrements by 1); 0 on EAGAIN. */
  eventfdRead(fd: number): number;
  /** socket(AF_UNIX, SOCK_STREAM|NONBLOCK|CLOEXEC), bind, listen (backlog default 16). Does not unlink an old path. */
  unixListen(path: string, backlog?: number): number;
  /**
   * Blocking connect bounded by `timeoutMs` (default 5000; EAGAIN when the listener's backlog
   * stays full), then O_NONBLOCK. ENOENT / ECONNREFUSED throw with that code.
   */
  unixConnect(path: string, timeoutMs?: number): number;
  /** accept4 NONBLOCK|CLOEXEC; -1 when nobody is waiting. */
  unixAccept(listenFd: number): number;
  /** sendmsg with SCM_RIGHTS (max 16 fds, needs >= 1 data byte), MSG_NOSIGNAL; bytes sent, -1 on EAGAIN. */
  sendMsg(fd: number, data: Uint8Array, fds?: readonly number[]): number;
  /** recvmsg MSG_CMSG_CLOEXEC|MSG_DONTWAIT; keeps at most maxFds (default 16) descriptors. */
  recvMsg(fd: number, buf: Uint8Array, maxFds?: number): RecvResult;
  /** poll one fd; revents, 0 on timeout; a negative timeout waits forever. EINTR retried with the time left. */
  poll(fd: number, events: number, timeoutMs: number): number;
  /**
   * libuv poll handle on the calling thread's event loop: `callback(revents, status)` whenever
   * `events` (POLLIN, POLLOUT, POLLHUP) are ready; status < 0 is a libuv error (then revents 0).
   * Level-triggered: drain the fd in the callback. One watch per fd per thread (EEXIST otherwise).
   */
  watch(fd: number, events: number, callback: (revents: number, status: number) => void): WatchHandle;
  /** shutdown SHUT_RDWR; ENOTCONN ignored. */
  shutdown(fd: number): void;
  readonly POLLIN: number;
  readonly POLLOUT: number;
  readonly POLLHUP: number;
  readonly POLLERR: number;
  readonly F_SEAL_SEAL: number;
  readonly F_SEAL_SHRINK: number;
  readonly F_SEAL_GROW: number;
  readonly F_SEAL_WRITE: number;
}

/** A failed system call: `code` is the errno name ("ENOENT"), message "<syscall>(<arg>): <strerror>". */
export class NativeError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(message: string, code: string, errno: number, syscall: string) {
    super(message);
    this.name = "NativeError";
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

const ENOTSUP = 95;
/** Alignment of each file's place in mmapSharedFiles' buffer (2 MiB). */
export const FILE_SLOT_ALIGN = 2 * 1024 * 1024;

/** Where mmapSharedFiles puts each of files of these lengths (offsets in its buffer), and the total. */
export function fileSlots(lengths: readonly number[]): { bases: number[]; total: number } {
  const bases: number[] = [];
  let total = 0;
  for (const l of lengths) {
    bases.push(total);
    total += Math.ceil(l / FILE_SLOT_ALIGN) * FILE_SLOT_ALIGN;
  }
  return { bases, total };
}

export const REBUILD_COMMAND = "pnpm --filter @tpdk/native rebuild";
/**
 * Where builds live: build/ of this package, or TPDK_NATIVE_BUILD_DIR (scripts/build.mjs reads the same
 * variable). Each Node ABI has its own directory, node-v<process.versions.modules> (115 is Node 20,
 * 127 Node 22, 137 Node 24, 147 Node 26), so one checkout serves several Nodes.
 */
const BUILD_ENV = process.env.TPDK_NATIVE_BUILD_DIR;
const BUILD_URL = BUILD_ENV ? pathToFileURL(`${resolve(BUILD_ENV)}/`) : new URL("../build/", import.meta.url);
const ABI_DIR = `node-v${process.versions.modules}`;
/** The file the loader loads in this Node (whether or not it is there). */
export const nativeBinaryPath: string = fileURLToPath(new URL(`${ABI_DIR}/tpdk_native.node`, BUILD_URL));
/** The binary as messages name it: relative to the package for its own build/, else absolute. */
const BINARY_REL = BUILD_ENV ? nativeBinaryPath : `build/${ABI_DIR}/tpdk_native.node`;
const FAILED_URL = new URL(`${ABI_DIR}/install-failed.txt`, BUILD_URL);

/** Why there is no build for this Node: the build step's record, else which Nodes there are builds for. */
function notBuiltReason(): string {
  try {
    return `at install, ${readFileSync(FAILED_URL, "utf8").trim()}`;
  } catch {
    // no recorded failure: the build step never ran for this Node (or build/ was removed)
  }
  let others: string[] = [];
  try {
    others = readdirSync(BUILD_URL)
      .filter((d) => /^node-v\d+$/.test(d) && existsSync(new URL(`${d}/tpdk_native.node`, BUILD_URL)))
      .sort();
  } catch {
    // no build directory at all
  }
  if (others.length > 0) return `not built for this Node (${process.version}, ABI ${process.versions.modules}; built only for ${others.join(", ")})`;
  // A checkout built before builds were keyed by ABI (the next build removes build/Release).
  if (!BUILD_ENV && existsSync(new URL("Release/tpdk_native.node", BUILD_URL))) return "not built (build/Release/tpdk_native.node is from before builds were per Node ABI: rebuild)";
  return "not built";
}

interface RawBinding extends NativeBinding {
  _setErrorClass(ctor: typeof NativeError): void;
}

function load(): { binding: NativeBinding | null; reason: string | null } {
  if (process.env.TPDK_NATIVE_DISABLE === "1") return { binding: null, reason: "disabled by TPDK_NATIVE_DISABLE" };
  const path = nativeBinaryPath;
  if (!existsSync(path)) return { binding: null, reason: `${BINARY_REL} not found: ${notBuiltReason()}` };
  try {
    const raw = createRequire(import.meta.url)(path) as RawBinding;
    raw._setErrorClass(NativeError);
    return { binding: raw, reason: null };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    return { binding: null, reason: `${BINARY_REL} does not load: ${msg}` };
  }
}

const loaded = load();

/** The addon, or null when it is not available (see nativeMissingReason). */
export const native: NativeBinding | null = loaded.binding;

/** One line: why `native` is null; null when it is loaded. */
export const nativeMissingReason: string | null = loaded.reason;

/**
 * The addon, for a feature that cannot work without it. Throws a NativeError
 * with code ENOTSUP: "<feature> needs the native addon @tpdk/native: <reason>;
 * rebuild with: pnpm --filter @tpdk/native rebuild".
 */
export function requireNative(feature: string): NativeBinding {
  if (native) return native;
  throw new NativeError(
    `${feature} needs the native addon @tpdk/native: ${nativeMissingReason}; rebuild with: ${REBUILD_COMMAND}`,
    "ENOTSUP",
    ENOTSUP,
    "dlopen",
  );
}

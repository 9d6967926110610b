import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { TpdkError, UsageError } from "@tpdk/eal";
import type { NativeBinding } from "@tpdk/native";

/**
 * Getting a connected vhost-user socket: as a client (connect to a listening
 * back-end, DPDK's default for virtio_user) or as a server (listen at `path`
 * and accept, `server=1`). Control path; every wait is bounded.
 */

/** Connect to a back-end listening at `path`. Errors name the path and the likely fix. */
export function connectClient(native: NativeBinding, path: string, name: string): number {
  try {
    return native.unixConnect(path);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "EIO";
    const why =
      code === "ENOENT" ? "no such socket; start the vhost-user back-end first, or use server=1 to let it connect to us"
      : code === "ECONNREFUSED" ? "nobody is listening there (a stale socket file?); start the back-end, or use server=1"
      : code === "EACCES" ? "permission denied"
      : (e as Error).message;
    const msg = `${name}: cannot connect to vhost-user socket ${path}: ${why}`;
    // A path that names no socket is what the user typed: a usage error (exit 2).
    if (code === "ENOENT") throw new UsageError(`${name}: path=${path}: ${why}`, "ENOENT");
    throw new TpdkError(code, msg, { cause: e });
  }
}

/** Listen at `path`, removing a stale socket file first (never a regular file). */
export function listenServer(native: NativeBinding, path: string, name: string): number {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) {
      throw new TpdkError("EEXIST", `${name}: ${path} exists and is not a socket; choose another path=`);
    }
    unlinkSync(path);
  }
  try {
    return native.unixListen(path, 1);
  } catch (e) {
    throw new TpdkError((e as { code?: string }).code ?? "EIO", `${name}: cannot listen on ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Wait (blocking, bounded) for one connection on a listening socket. */
export function acceptWithin(native: NativeBinding, listenFd: number, timeoutMs: number, name: string, path: string): number {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fd = native.unixAccept(listenFd);
    if (fd >= 0) return fd;
    const left = deadline - Date.now();
    if (left <= 0 || native.poll(listenFd, native.POLLIN, left) === 0) {
      throw new TpdkError("ETIMEDOUT", `${name}: no vhost-user back-end connected to ${path} within ${timeoutMs} ms`);
    }
  }
}

/** Remove our own socket file (server mode, at close). */
export function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone
  }
}

import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { native, nativeMissingReason, NativeError } from "./index.js";
// @tpdk/testing depends on this package, so it is not a dependency here: its owned.ts by path
// (what a killed run leaves is removed; test/support/README.md "Cleanup: what a test starts outside its process").
import { ownedTempDir } from "../../../test/support/src/e2e/owned.js";

const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

const MB = 1 << 20;

describe.skipIf(native === null)(`Unix stream sockets with SCM_RIGHTS, poll, watch${skipNote}`, () => {
  const n = native!;
  const dir = ownedTempDir("native");
  let seq = 0;
  const fds: number[] = [];
  const own = (fd: number) => (fds.push(fd), fd);
  afterEach(() => {
    for (const fd of fds.splice(0).reverse()) n.close(fd);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A connected pair: [client, server side]. */
  function pair(): [number, number] {
    const path = join(dir, `s${seq++}.sock`);
    const l = own(n.unixListen(path));
    expect(n.unixAccept(l)).toBe(-1); // nobody yet: EAGAIN
    const c = own(n.unixConnect(path));
    expect(n.poll(l, n.POLLIN, 5000) & n.POLLIN).toBe(n.POLLIN);
    const s = own(n.unixAccept(l));
    expect(s).toBeGreaterThanOrEqual(0);
    return [c, s];
  }

  it("listen, connect, accept; bytes both ways", () => {
    const [c, s] = pair();
    expect(n.sendMsg(c, new TextEncoder().encode("hello"))).toBe(5);
    const buf = new Uint8Array(64);
    const r = n.recvMsg(s, buf);
    expect(r).toEqual({ bytes: 5, fds: [], truncated: false });
    expect(new TextDecoder().decode(buf.subarray(0, 5))).toBe("hello");
    expect(n.sendMsg(s, buf.subarray(1, 3))).toBe(2);
    expect(n.recvMsg(c, buf).bytes).toBe(2);
  });

  it("passes an eventfd and a memfd; the receiver's copies work", () => {
    const [c, s] = pair();
    const ev = own(n.eventfd(0));
    const mem = own(n.memfdCreate("tpdk-test", MB));
    const mine = new Uint32Array(n.mmapShared(mem, MB, 0));
    mine[4] = 77;
    const msg = new Uint8Array([1, 2, 3, 4]);
    expect(n.sendMsg(c, msg, [ev, mem])).toBe(4);

    const buf = new Uint8Array(16);
    const r = n.recvMsg(s, buf, 8);
    expect(r.bytes).toBe(4);
    expect(r.truncated).toBe(false);
    expect(r.fds).toHaveLength(2);
    const [ev2, mem2] = r.fds.map(own) as [number, number];
    expect(ev2).not.toBe(ev);
    // The received eventfd is the same counter.
    n.eventfdWrite(ev2, 9);
    expect(n.eventfdRead(ev)).toBe(9);
    // The received memfd maps the same memory.
    expect(n.fileSize(mem2)).toBe(MB);
    const theirs = new Uint32Array(n.mmapShared(mem2, MB, 0));
    expect(theirs[4]).toBe(77);
    theirs[5] = 88;
    expect(mine[5]).toBe(88);
  });

  it("fds beyond maxFds are closed and reported as truncated", () => {
    const [c, s] = pair();
    const a = own(n.eventfd(0));
    const b = own(n.eventfd(0));
    n.sendMsg(c, new Uint8Array([0]), [a, b, a]);
    const r = n.recvMsg(s, new Uint8Array(4), 1);
    expect(r.bytes).toBe(1);
    expect(r.fds).toHaveLength(1);
    expect(r.truncated).toBe(true);
    own(r.fds[0]!);
  });

  it("recvMsg: -1 when nothing is queued (EAGAIN), 0 at EOF; sendMsg to a closed peer throws EPIPE", () => {
    const [c, s] = pair();
    const buf = new Uint8Array(8);
    expect(n.recvMsg(s, buf).bytes).toBe(-1);
    n.shutdown(c);
    n.shutdown(c); // idempotent
    expect(n.poll(s, n.POLLIN, 5000) & n.POLLIN).toBe(n.POLLIN);
    expect(n.recvMsg(s, buf)).toEqual({ bytes: 0, fds: [], truncated: false });
    expect(() => n.sendMsg(c, buf)).toThrow(expect.objectContaining({ code: "EPIPE", syscall: "sendmsg" }));
  });

  it("sendMsg returns -1 when the socket buffer is full (EAGAIN)", () => {
    const [c] = pair();
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    let r = 0;
    for (let i = 0; i < 10_000 && (r = n.sendMsg(c, chunk)) >= 0; i++) sent += r;
    expect(r).toBe(-1);
    expect(sent).toBeGreaterThan(0);
  });

  it("errors carry the errno name: missing path ENOENT, nobody listening ECONNREFUSED, path in use EADDRINUSE", () => {
    const missing = join(dir, "missing.sock");
    let err: unknown;
    try {
      n.unixConnect(missing);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeError);
    expect(err).toMatchObject({ code: "ENOENT", syscall: "connect", message: `connect(${missing}): No such file or directory` });

    const path = join(dir, `s${seq++}.sock`);
    const l = n.unixListen(path);
    expect(() => n.unixListen(path)).toThrow(expect.objectContaining({ code: "EADDRINUSE", syscall: "bind" }));
    n.close(l); // the path stays, nobody listens on it
    expect(() => n.unixConnect(path)).toThrow(expect.objectContaining({ code: "ECONNREFUSED" }));
    expect(() => n.unixConnect(join(dir, "x".repeat(120)))).toThrow(expect.objectContaining({ code: "ENAMETOOLONG" }));
    expect(() => n.sendMsg(0 as number, "x" as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => n.sendMsg(1 << 30, new Uint8Array(1), new Array(17).fill(0))).toThrow(RangeError);
  });

  it("poll returns 0 after its timeout", () => {
    const [c] = pair();
    const t0 = performance.now();
    expect(n.poll(c, n.POLLIN, 50)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
  });

  it("watch fires on the main loop while it stays free; stop() is idempotent and leaves the fd open", async () => {
    const ev = own(n.eventfd(0));
    const seen: number[] = [];
    let wake: () => void = () => {};
    const w = n.watch(ev, n.POLLIN, (revents, status) => {
      expect(status).toBe(0);
      seen.push(revents);
      n.eventfdRead(ev); // level-triggered: drain
      wake();
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual([]); // nothing written yet, and the loop keeps running timers
    expect(ticks).toBeGreaterThan(0);
    const fired = new Promise<void>((r) => (wake = r));
    n.eventfdWrite(ev);
    await Promise.race([fired, new Promise((_, rej) => setTimeout(() => rej(new Error("watch did not fire")), 5000))]);
    clearInterval(timer);
    expect(seen).toEqual([n.POLLIN]);
    w.stop();
    w.stop();
    n.eventfdWrite(ev);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toHaveLength(1);
    expect(n.eventfdRead(ev)).toBe(1); // the fd is still open and ours
    // A new watch on the same fd is allowed once the old one stopped; a second at once is EEXIST.
    const w2 = n.watch(ev, n.POLLIN, () => {});
    expect(() => n.watch(ev, n.POLLIN, () => {})).toThrow(expect.objectContaining({ code: "EEXIST" }));
    w2.stop();
  });

  it("watch on a bad fd or a regular file throws (EBADF, EPERM: epoll cannot watch files) instead of aborting", () => {
    expect(() => n.watch(1 << 20, n.POLLIN, () => {})).toThrow(expect.objectContaining({ code: "EBADF", syscall: "uv_poll_init" }));
    const mem = own(n.memfdCreate("tpdk-test", 4096));
    expect(() => n.watch(mem, n.POLLIN, () => {})).toThrow(expect.objectContaining({ code: "EPERM" }));
    expect(() => n.watch(mem, 0, () => {})).toThrow(TypeError);
  });

  it("watch reports a peer hang-up as POLLHUP", async () => {
    const [c, s] = pair();
    const got = new Promise<number>((resolve) => {
      const w = n.watch(s, n.POLLIN | n.POLLHUP, (revents) => {
        w.stop();
        resolve(revents);
      });
    });
    n.close(c);
    fds.splice(fds.indexOf(c), 1);
    const revents = await got;
    expect(revents & (n.POLLIN | n.POLLHUP)).not.toBe(0);
    expect(n.recvMsg(s, new Uint8Array(4)).bytes).toBe(0);
  });
});

describe.skipIf(native === null)(`Unix sockets: bounded connect, shared buffers${skipNote}`, () => {
  const n = native!;
  const dir = ownedTempDir("native");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("connect to a listener that never accepts fails with EAGAIN after timeoutMs instead of hanging", () => {
    const path = join(dir, "full.sock");
    const l = n.unixListen(path, 0);
    const conns: number[] = [];
    try {
      let err: unknown = null;
      const t0 = performance.now();
      // The backlog fills after a connection or two; the next connect sleeps until the timeout.
      for (let i = 0; i < 8 && err === null; i++) {
        try {
          conns.push(n.unixConnect(path, 200));
        } catch (e) {
          err = e;
        }
      }
      expect(err).toMatchObject({ code: "EAGAIN", syscall: "connect" });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      for (const c of conns) n.close(c);
      n.close(l);
    }
  });

  it("sends from and receives into views of a SharedArrayBuffer (EAL memory)", () => {
    const path = join(dir, "sab.sock");
    const l = n.unixListen(path);
    const c = n.unixConnect(path);
    const s = n.unixAccept(l);
    try {
      const sab = new SharedArrayBuffer(4096);
      const out = new Uint8Array(sab, 100, 12);
      out.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(n.sendMsg(c, out)).toBe(12);
      const into = new Uint8Array(sab, 2000, 12);
      expect(n.recvMsg(s, into).bytes).toBe(12);
      expect([...into]).toEqual([...out]);
      expect(new Uint8Array(sab)[1999]).toBe(0); // nothing written outside the view
      expect(new Uint8Array(sab)[2012]).toBe(0);
    } finally {
      n.close(s);
      n.close(c);
      n.close(l);
    }
  });
});

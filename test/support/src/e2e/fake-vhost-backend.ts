// A scripted vhost-user back-end for hostile-peer tests: listens at a path,
// accepts one front-end, parses its messages and lets the test decide each
// answer (a reply, garbage, silence, a hang-up). Runs on the test's event loop
// through the native addon's watch, so the front-end under test can be a
// child process that blocks on its replies.
import { type NativeBinding } from "@tpdk/native";
import { decodeHeader, encode, protocol } from "@tpdk/vhost-user";

export interface Received {
  request: number;
  flags: number;
  payload: Uint8Array;
  fds: number[];
}

/** What the script does with one message: send bytes back, close, or nothing. */
export type Action = { send?: Uint8Array; close?: boolean };
export type Script = (m: Received, seen: Received[]) => Action;

export class FakeBackend {
  readonly seen: Received[] = [];
  private readonly native: NativeBinding;
  private readonly listenFd: number;
  private conn = -1;
  private watches: { stop(): void }[] = [];
  private connWatch: { stop(): void } | null = null;
  private pending = new Uint8Array(0);
  private pendingFds: number[] = [];

  constructor(native: NativeBinding, path: string, script: Script) {
    this.native = native;
    this.listenFd = native.unixListen(path, 1);
    this.watches.push(native.watch(this.listenFd, native.POLLIN, () => {
      const fd = native.unixAccept(this.listenFd);
      if (fd < 0 || this.conn >= 0) {
        if (fd >= 0) native.close(fd);
        return;
      }
      this.conn = fd;
      const buf = new Uint8Array(4096);
      this.connWatch = native.watch(fd, native.POLLIN, () => {
        if (this.conn < 0) return;
        const r = native.recvMsg(fd, buf, 16);
        if (r.bytes <= 0) {
          if (r.bytes === 0) this.hangUp();
          return;
        }
        const joined = new Uint8Array(this.pending.length + r.bytes);
        joined.set(this.pending);
        joined.set(buf.subarray(0, r.bytes), this.pending.length);
        this.pending = joined;
        this.pendingFds.push(...r.fds);
        while (this.pending.length >= protocol.HEADER_BYTES && this.conn >= 0) {
          const h = decodeHeader(this.pending.subarray(0, protocol.HEADER_BYTES))!;
          if (this.pending.length < protocol.HEADER_BYTES + h.size) break;
          const m: Received = { request: h.request, flags: h.flags, payload: this.pending.slice(12, 12 + h.size), fds: this.pendingFds };
          this.pending = this.pending.slice(12 + h.size);
          this.pendingFds = [];
          this.seen.push(m);
          const a = script(m, this.seen);
          if (a.send) native.sendMsg(fd, a.send);
          if (a.close) this.hangUp();
        }
      });
    }));
  }

  /** Stop watching before closing: a closed fd's number can be reused by another file under the watch. */
  private hangUp(): void {
    this.connWatch?.stop();
    this.connWatch = null;
    if (this.conn >= 0) this.native.close(this.conn);
    this.conn = -1;
  }

  close(): void {
    for (const w of this.watches) w.stop();
    this.hangUp();
    this.native.close(this.listenFd);
    for (const m of this.seen) for (const fd of m.fds) this.native.close(fd);
  }
}

/** A reply to `m` carrying `payload`. */
export function reply(m: Received, payload: Uint8Array): Uint8Array {
  return encode(m.request, protocol.FLAG_REPLY, payload);
}

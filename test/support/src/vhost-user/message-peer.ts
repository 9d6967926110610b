// One end of a vhost-user socket, driven by a test: it sends any message or
// any bytes, and waits (bounded, without blocking the event loop) for a reply
// or for the other side to hang up. The back-end's unit tests script a
// front-end with it; the hostile front-end of the e2e tests builds on it.
import type { NativeBinding } from "@tpdk/native";
import { decodeHeader, encode, protocol } from "@tpdk/vhost-user";

export interface Reply {
  request: number;
  flags: number;
  payload: Uint8Array;
}

export class MessagePeer {
  /** Every fd passed to send() or raw(), in order: the caller's copies, which it still owns (the other side got its own). */
  readonly fdsSent: number[] = [];
  private closed = false;

  constructor(protected readonly native: NativeBinding, readonly fd: number) {}

  /** Connect to a listening socket (one try, bounded by the native call). */
  static open(native: NativeBinding, path: string): MessagePeer {
    return new MessagePeer(native, native.unixConnect(path, 1000));
  }

  /** One message; false when the other side has closed the connection (hostile tests keep going). */
  send(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = [], flags = 0): boolean {
    return this.raw(encode(request, flags, payload), fds);
  }

  /** Any bytes (garbage, a header lying about its size); false when the other side has closed the connection. */
  raw(bytes: Uint8Array, fds: number[] = []): boolean {
    this.fdsSent.push(...fds);
    try {
      return this.native.sendMsg(this.fd, bytes, fds) === bytes.length;
    } catch {
      return false;
    }
  }

  /** One whole reply (fds that came with it are closed); null on EOF or a broken connection. */
  async reply(timeoutMs = 5000): Promise<Reply | null> {
    const buf = new Uint8Array(protocol.HEADER_BYTES + protocol.MAX_PAYLOAD_BYTES);
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    for (;;) {
      let r;
      try {
        r = this.native.recvMsg(this.fd, buf.subarray(got));
      } catch {
        return null;
      }
      for (const fd of r.fds) this.native.close(fd);
      if (r.bytes === 0) return null;
      if (r.bytes > 0) got += r.bytes;
      if (got >= protocol.HEADER_BYTES) {
        const h = decodeHeader(buf.subarray(0, protocol.HEADER_BYTES))!;
        const end = protocol.HEADER_BYTES + h.size;
        if (got >= end) return { request: h.request, flags: h.flags, payload: buf.slice(protocol.HEADER_BYTES, end) };
      }
      if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 2));
    }
  }

  /** True once the other side has closed the connection; false when it is still open after `timeoutMs`. */
  async closedByPeer(timeoutMs = 5000): Promise<boolean> {
    const buf = new Uint8Array(512);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let r;
      try {
        r = this.native.recvMsg(this.fd, buf);
      } catch {
        return true;
      }
      for (const fd of r.fds) this.native.close(fd);
      if (r.bytes === 0) return true;
      if (Date.now() > deadline) return false;
      await new Promise((res) => setTimeout(res, 2));
    }
  }

  /** Hang up (the other side sees EOF). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.native.close(this.fd);
    } catch {
      // already closed
    }
  }
}

import { TpdkError } from "@tpdk/eal";
import type { NativeBinding } from "@tpdk/native";
import { type Message, decodeHeader, encode } from "./message.js";
import { FLAG_REPLY, HEADER_BYTES, MAX_PAYLOAD_BYTES, requestName } from "./protocol.js";

/** At most this many fds arrive with one message (a full memory table has 8). */
const MAX_FDS = 8;

/**
 * One vhost-user connection driven synchronously: send a request, wait for
 * its reply. The front-end's register accesses are synchronous (the driver's
 * bring-up reads a status and expects the answer), so its messages are too,
 * as DPDK's virtio_user does them. Every wait is bounded by `timeoutMs`; a
 * peer that closes, stalls or answers with something else is a TpdkError
 * naming the request: ECONNRESET, ETIMEDOUT or EPROTO; the channel is then
 * broken (every later call fails at once) but its fd stays open until the
 * owner calls close(), after it stopped watching the fd (an fd closed under a
 * libuv watch can be reused by another file and its events misrouted).
 * Control path only.
 */
export class SyncChannel {
  readonly name: string;
  readonly fd: number;
  private readonly native: NativeBinding;
  private readonly timeoutMs: number;
  private readonly header = new Uint8Array(HEADER_BYTES);
  private closed = false;
  /** Why the channel can no longer be used (null while it can). */
  private broken: string | null = null;

  constructor(native: NativeBinding, fd: number, name: string, timeoutMs: number) {
    this.native = native;
    this.fd = fd;
    this.name = name;
    this.timeoutMs = timeoutMs;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Send one message; fds travel as SCM_RIGHTS (the caller keeps its copies). */
  send(request: number, payload?: Uint8Array, fds: readonly number[] = [], flags = 0): void {
    this.assertOpen(request);
    const bytes = encode(request, flags, payload);
    const deadline = Date.now() + this.timeoutMs;
    let off = 0;
    while (off < bytes.length) {
      let n: number;
      try {
        // The fds go with the first byte only (SCM_RIGHTS attaches them to that segment).
        n = this.native.sendMsg(this.fd, off === 0 ? bytes : bytes.subarray(off), off === 0 ? fds : []);
      } catch (e) {
        throw this.lost(request, "sending", e);
      }
      if (n < 0) this.waitFor(this.native.POLLOUT, deadline, request, "sending");
      else off += n;
    }
  }

  /** Receive one whole message (waits up to the timeout). */
  receive(forRequest: number): Message {
    this.assertOpen(forRequest);
    const deadline = Date.now() + this.timeoutMs;
    const fds: number[] = [];
    this.readExactly(this.header, deadline, forRequest, fds);
    const h = decodeHeader(this.header);
    if (!h) throw this.protocol(forRequest, `reply header has a bad version (flags 0x${new DataView(this.header.buffer).getUint32(4, true).toString(16)})`, fds);
    if (h.size > MAX_PAYLOAD_BYTES) throw this.protocol(forRequest, `reply announces ${h.size} payload bytes (at most ${MAX_PAYLOAD_BYTES})`, fds);
    const payload = new Uint8Array(h.size);
    if (h.size > 0) this.readExactly(payload, deadline, forRequest, fds);
    return { request: h.request, flags: h.flags, payload, fds };
  }

  /** Send a request that has a reply (GET_*, or any with NEED_REPLY) and return the reply's payload. */
  call(request: number, payload?: Uint8Array, fds: readonly number[] = [], flags = 0): Uint8Array {
    this.send(request, payload, fds, flags);
    const m = this.receive(request);
    if (m.request !== request || (m.flags & FLAG_REPLY) === 0) {
      throw this.protocol(request, `got ${requestName(m.request)} (flags 0x${m.flags.toString(16)}) instead of its reply`, m.fds);
    }
    this.closeFds(m.fds); // replies to our requests never carry fds we asked for
    return m.payload;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.native.close(this.fd);
    } catch {
      // already gone
    }
  }

  private readExactly(buf: Uint8Array, deadline: number, request: number, fds: number[]): void {
    let off = 0;
    while (off < buf.length) {
      let r: { bytes: number; fds: number[]; truncated: boolean };
      try {
        r = this.native.recvMsg(this.fd, off === 0 ? buf : buf.subarray(off), MAX_FDS);
      } catch (e) {
        this.closeFds(fds);
        throw this.lost(request, "waiting for the reply to", e);
      }
      for (const fd of r.fds) fds.push(fd);
      if (r.bytes === 0) {
        this.closeFds(fds);
        this.broken = "the back-end closed the connection";
        throw new TpdkError("ECONNRESET", `${this.name}: the vhost-user back-end closed the connection (waiting for the reply to ${requestName(request)})`);
      }
      if (r.bytes < 0) this.waitFor(this.native.POLLIN, deadline, request, "waiting for the reply to");
      else off += r.bytes;
    }
  }

  private waitFor(events: number, deadline: number, request: number, what: string): void {
    const left = deadline - Date.now();
    if (left <= 0 || this.native.poll(this.fd, events, left) === 0) {
      this.broken = `no answer to ${requestName(request)}`;
      throw new TpdkError("ETIMEDOUT", `${this.name}: the vhost-user back-end did not answer within ${this.timeoutMs} ms (${what} ${requestName(request)})`);
    }
  }

  private assertOpen(request: number): void {
    if (this.closed || this.broken !== null) {
      throw new TpdkError("ECONNRESET", `${this.name}: vhost-user connection is ${this.closed ? "closed" : `broken (${this.broken})`}; cannot send ${requestName(request)}`);
    }
  }

  private lost(request: number, what: string, e: unknown): TpdkError {
    this.broken = `connection failed ${what} ${requestName(request)}`;
    const code = (e as { code?: string }).code ?? "EIO";
    return new TpdkError(code === "EPIPE" ? "ECONNRESET" : code, `${this.name}: vhost-user connection failed ${what} ${requestName(request)}: ${(e as Error).message}`, { cause: e });
  }

  private protocol(request: number, why: string, fds: number[]): TpdkError {
    this.closeFds(fds);
    this.broken = `protocol broken after ${requestName(request)}`;
    return new TpdkError("EPROTO", `${this.name}: vhost-user back-end broke the protocol after ${requestName(request)}: ${why}`);
  }

  private closeFds(fds: number[]): void {
    for (const fd of fds) {
      try {
        this.native.close(fd);
      } catch {
        // not ours to worry about
      }
    }
    fds.length = 0;
  }
}

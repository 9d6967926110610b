import type { NativeBinding, WatchHandle } from "@tpdk/native";
import { listenServer, removeSocket } from "../connection.js";
import { decodeHeader } from "../message.js";
import * as P from "../protocol.js";
import { BackendSession, type DataPlane, ProtocolError } from "./session.js";

/**
 * net_vhost's control path: the vhost-user socket of one port, served on the
 * main thread's event loop (native.watch), never blocking it. Server (the
 * default, as DPDK's net_vhost): listen at `path` (a stale socket file is
 * removed first), accept one front-end, and accept again after it goes.
 * Client (client=1): connect, and retry every second while it is away.
 *
 * Each message is read whole (header, then exactly `size` payload bytes,
 * the fds that came with any of its bytes) before it is handled; a version
 * other than 1, a size over 264 bytes, dropped fds or any error from the
 * session closes the connection and is counted. The session then stops
 * every ring and closes every fd the front-end gave us. So does a ring the
 * data path could not set up (the DataPlane's fault eventfd, watched here:
 * e.g. the lcore's map of a file the front-end shrank after SET_MEM_TABLE),
 * and a front-end that shrank its file while a ring ran (the same eventfd,
 * written by the addon's SIGBUS guard: DataPlane.memoryFault).
 */

export interface BackendOptions {
  readonly name: string;
  readonly path: string;
  readonly client: boolean;
  readonly queuePairs: number;
  readonly requireSealed: boolean;
  /** client=1: delay between connection attempts, ms. */
  readonly reconnectMs?: number;
}

export interface BackendCounters {
  connections: number;
  disconnects: number;
  /** Connections closed because the front-end broke the protocol. */
  protocolErrors: number;
  messages: number;
  /** Memory tables accepted without F_SEAL_SHRINK (see README: what remains exposed). */
  unsealedTables: number;
  /** A second front-end while one is connected: refused. */
  refusedConnections: number;
  /** Connections whose front-end negotiated packed rings (VIRTIO_F_RING_PACKED). */
  packedConnections: number;
  /** Connections closed because the data path could not set a ring up (DataPlane.fault(): the lcore's map failed). */
  ringFaults: number;
  /** Connections closed because the front-end shrank its memory file under the data path (DataPlane.memoryFault(): SIGBUS, answered by the guard). */
  memoryFaults: number;
  lastError: string | null;
}

/** Link: up while rings 0 and 1 run (the first pair), with a reason. */
export type BackendLinkListener = (up: boolean, why: string) => void;

const MAX_MESSAGE = P.HEADER_BYTES + P.MAX_PAYLOAD_BYTES;
const RECONNECT_MS = 1000;

export class VhostUserBackend {
  readonly counters: BackendCounters = {
    connections: 0, disconnects: 0, protocolErrors: 0, messages: 0, unsealedTables: 0, refusedConnections: 0, packedConnections: 0, ringFaults: 0, memoryFaults: 0, lastError: null,
  };
  private listenFd = -1;
  private listenWatch: WatchHandle | null = null;
  private conn = -1;
  /** This connection has been counted in packedConnections. */
  private packedCounted = false;
  private connWatch: WatchHandle | null = null;
  private faultWatch: WatchHandle | null = null;
  private session: BackendSession | null = null;
  private readonly buf = new Uint8Array(MAX_MESSAGE);
  private got = 0;
  private need = P.HEADER_BYTES;
  private fds: number[] = [];
  private linkUp = false;
  private readonly listeners: BackendLinkListener[] = [];
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly native: NativeBinding, private readonly opts: BackendOptions, private readonly dp: DataPlane) {}

  /** Listen (server) or start connecting (client). Throws TpdkError when the socket cannot be made. */
  start(): void {
    const faultFd = this.dp.faultFd ?? -1;
    if (faultFd >= 0 && this.faultWatch === null) this.faultWatch = this.native.watch(faultFd, this.native.POLLIN, () => this.onFault(faultFd));
    if (this.opts.client) {
      this.tryConnect();
      return;
    }
    this.listenFd = listenServer(this.native, this.opts.path, this.opts.name);
    this.listenWatch = this.native.watch(this.listenFd, this.native.POLLIN, () => this.onAcceptable());
  }

  get connected(): boolean {
    return this.conn >= 0;
  }

  get link(): boolean {
    return this.linkUp;
  }

  /** The current session (tests and statistics); null while no front-end is connected. */
  get current(): BackendSession | null {
    return this.session;
  }

  onLinkChange(l: BackendLinkListener): void {
    this.listeners.push(l);
  }

  /** Stop serving: the connection is closed (rings stopped, fds closed), the socket file removed. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.disconnect("port closed", false);
    this.faultWatch?.stop();
    this.faultWatch = null;
    this.listenWatch?.stop();
    this.listenWatch = null;
    if (this.listenFd >= 0) {
      this.native.close(this.listenFd);
      this.listenFd = -1;
      removeSocket(this.opts.path);
    }
  }

  private tryConnect(): void {
    this.retry = null;
    if (this.closed) return;
    let fd: number;
    try {
      fd = this.native.unixConnect(this.opts.path, 1000);
    } catch (e) {
      this.counters.lastError = `connect ${this.opts.path}: ${(e as Error).message}`;
      this.retry = setTimeout(() => this.tryConnect(), this.opts.reconnectMs ?? RECONNECT_MS);
      this.retry.unref();
      return;
    }
    this.attach(fd);
  }

  private onAcceptable(): void {
    for (;;) {
      let fd: number;
      try {
        fd = this.native.unixAccept(this.listenFd);
      } catch (e) {
        this.counters.lastError = `accept: ${(e as Error).message}`;
        return;
      }
      if (fd < 0) return;
      if (this.conn >= 0) {
        // One front-end per port (as DPDK's net_vhost): a second one is turned away.
        this.counters.refusedConnections++;
        this.native.close(fd);
        continue;
      }
      this.attach(fd);
    }
  }

  private attach(fd: number): void {
    this.conn = fd;
    this.counters.connections++;
    this.packedCounted = false;
    this.got = 0;
    this.need = P.HEADER_BYTES;
    this.fds = [];
    this.session = new BackendSession(this.native, this.dp, { queuePairs: this.opts.queuePairs, requireSealed: this.opts.requireSealed });
    this.connWatch = this.native.watch(fd, this.native.POLLIN, (revents, status) => this.onReadable(revents, status));
  }

  private onReadable(revents: number, status: number): void {
    if (this.conn < 0) return;
    if (status < 0) return this.disconnect(`socket error (libuv status ${status})`, false);
    // Level-triggered: drain what is there, message by message.
    for (let i = 0; i < 64 && this.conn >= 0; i++) {
      let r;
      try {
        r = this.native.recvMsg(this.conn, this.buf.subarray(this.got, this.need), 16);
      } catch (e) {
        return this.disconnect(`recvmsg: ${(e as Error).message}`, false);
      }
      for (const fd of r.fds) this.fds.push(fd);
      if (r.truncated) return this.disconnect("more file descriptors than any message carries", true);
      if (r.bytes < 0) return;
      if (r.bytes === 0) return this.disconnect("front-end closed the connection", false);
      this.got += r.bytes;
      if (this.got < this.need) continue;
      if (this.need === P.HEADER_BYTES) {
        const h = decodeHeader(this.buf.subarray(0, P.HEADER_BYTES));
        if (h === null) return this.disconnect("message with a version other than 1", true);
        if (h.size > P.MAX_PAYLOAD_BYTES) return this.disconnect(`${P.requestName(h.request)} of ${h.size} bytes (at most ${P.MAX_PAYLOAD_BYTES})`, true);
        this.need = P.HEADER_BYTES + h.size;
        if (h.size > 0) continue;
      }
      this.message();
    }
    void revents;
  }

  private message(): void {
    const h = decodeHeader(this.buf.subarray(0, P.HEADER_BYTES))!;
    const fds = this.fds;
    this.fds = [];
    const payload = this.buf.slice(P.HEADER_BYTES, this.need);
    this.got = 0;
    this.need = P.HEADER_BYTES;
    this.counters.messages++;
    const s = this.session!;
    let reply: Uint8Array | null;
    try {
      reply = s.handle({ request: h.request, flags: h.flags, payload, fds });
    } catch (e) {
      if (e instanceof ProtocolError) return this.disconnect(e.reason, true);
      return this.disconnect(`internal error: ${(e as Error).message}`, true);
    } finally {
      this.counters.unsealedTables += s.unsealedTables;
      s.unsealedTables = 0;
      if (s.packedNegotiated && !this.packedCounted) {
        this.packedCounted = true;
        this.counters.packedConnections++;
      }
    }
    if (reply !== null) {
      let sent = -1;
      try {
        sent = this.native.sendMsg(this.conn, reply);
      } catch (e) {
        return this.disconnect(`reply to ${P.requestName(h.request)}: ${(e as Error).message}`, false);
      }
      // A reply is at most 52 bytes: a front-end whose socket buffer cannot take it is not reading.
      if (sent !== reply.length) return this.disconnect(`reply to ${P.requestName(h.request)} not taken (front-end not reading)`, true);
    }
    this.updateLink();
  }

  /** The data path could not set a ring up (an lcore wrote the fault eventfd): close the connection. */
  private onFault(fd: number): void {
    this.native.eventfdRead(fd);
    // The front-end shrank its memory under a running ring (the guard answered a SIGBUS): taken here,
    // so a mark is never left for the next connection.
    const memory = this.dp.memoryFault?.() ?? null;
    const why = memory ?? this.dp.fault?.() ?? null;
    // A ring restarted meanwhile (a new table) runs again: nothing to close.
    if (why === null || this.conn < 0) return;
    if (memory !== null) this.counters.memoryFaults++;
    else this.counters.ringFaults++;
    this.disconnect(why, false);
  }

  private updateLink(): void {
    const s = this.session;
    const up = s !== null && s.rings[0]!.running && s.rings[1]!.running;
    if (up === this.linkUp) return;
    this.linkUp = up;
    const why = up ? "front-end rings enabled" : this.session ? "front-end stopped its rings" : "front-end disconnected";
    for (const l of this.listeners) l(up, why);
  }

  /** Close the connection (rings stopped, fds closed) and, as a server, wait for the next one. */
  private disconnect(why: string, protocolError: boolean): void {
    if (this.conn < 0) return;
    if (protocolError) this.counters.protocolErrors++;
    this.counters.disconnects++;
    this.counters.lastError = why;
    this.connWatch?.stop();
    this.connWatch = null;
    const s = this.session;
    this.session = null;
    try {
      s?.close();
    } finally {
      for (const fd of this.fds) this.native.close(fd);
      this.fds = [];
      this.native.close(this.conn);
      this.conn = -1;
      if (this.linkUp) {
        this.linkUp = false;
        for (const l of this.listeners) l(false, why);
      }
      if (this.opts.client && !this.closed) {
        this.retry = setTimeout(() => this.tryConnect(), this.opts.reconnectMs ?? RECONNECT_MS);
        this.retry.unref();
      }
    }
  }
}

import * as dgram from "node:dgram";
import { constants as osConstants } from "node:os";
import { type Memory, TpdkError } from "@tpdk/eal";
import { ETH_HDR_LEN } from "./frame.js";
import { FrameQueue } from "./frame-queue.js";
import { QueuedRxWire } from "./queued-rx.js";
import { VXLAN_HDR_LEN, readVxlanVni, writeVxlanHeader } from "./vxlan.js";
import type { CheckOptions } from "./wire-sink.js";
import {
  S_BAD_LENGTH, S_BAD_VXLAN, S_DATAGRAMS_IN, S_DATAGRAMS_OUT, S_LAST_WRITE_ERROR, S_SEND_DROPPED, S_WRITE_ERRORS,
  WIRE_KIND_UDP, WRITE_ERROR_CLOSED, recordWriteError,
} from "./wire-stats.js";
import type { Wire, WireEventLoop } from "./wire.js";

const EMSGSIZE = osConstants.errno.EMSGSIZE;

/** Received frames a udp wire holds until the device takes them (a power of two). */
export const UDP_RX_FRAMES = 1024;
export const UDP_RX_BYTES = 1 << 20;
/** Frames a udp wire can have in flight in the socket (sent, completion not yet seen). */
export const UDP_TX_FRAMES = 1024;
export const UDP_TX_BYTES = 1 << 20;
/** Largest UDP payload in an IPv4 datagram (65535 - 20 - 8); also used for IPv6. */
export const UDP_MAX_PAYLOAD = 65507;
/** Socket buffer sizes asked for (the kernel caps them at net.core.[rw]mem_max). */
const SOCKET_BUFFER_BYTES = 4 << 20;

export interface UdpEndpoint {
  /** An IP address literal (validated on the main thread: no name lookups on the device thread). */
  address: string;
  port: number;
}

export interface UdpOptions extends CheckOptions {
  /** The vdev's name, for messages. */
  vdev: string;
  family: 4 | 6;
  local: UdpEndpoint;
  remote: UdpEndpoint;
  /** VXLAN network identifier, or null for bare frames in datagrams. */
  vni: number | null;
}

/** dgram resolves every destination through `lookup`; ours are literals, so answer at once (the default defers the send to a later tick). */
function literalLookup(address: string, family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, typeof family === "number" ? family : address.includes(":") ? 6 : 4);
}

function noop(): void {}

/**
 * wire=udp: each frame travels in one UDP datagram between `local` and
 * `remote` (with `vni`, behind a VXLAN header, so a Linux vxlan interface
 * is the peer). Never exhausted, not lossless.
 *
 * The socket lives on the device thread, whose loop lets the event loop turn
 * between passes (DeviceLoop.runAsync). Receive: the 'message' callback
 * checks the datagram and copies it into a FrameQueue in EAL memory, which
 * ready()/produce() (QueuedRxWire) drain without allocating; the Buffer (and the rinfo
 * object) dgram hands the callback are Node's allocations, one per datagram,
 * which no JS code can avoid. Transmit: consume() copies the frame (after the
 * VXLAN header) into a second FrameQueue whose zone is viewed as one Buffer,
 * and sends that range; the entry is recycled when the send completes, in
 * order. dgram.send itself allocates (its request object, a view); ours is the
 * one copy. A full send queue (completions only arrive when the event loop
 * turns) drops the frame (sendDropped). A send error or a closed socket counts
 * writeErrors; nothing is thrown.
 *
 * Accounting: datagramsIn = generated + badVxlan + badLength + queued;
 * generated = produced + missed (missed includes overflow: the receive queue
 * was full); received = datagramsOut + sendDropped + writeErrors + in flight.
 */
export class UdpWire extends QueuedRxWire implements Wire {
  readonly kind = "udp";
  readonly lossless = false;
  readonly eventLoop: WireEventLoop;
  private readonly o: UdpOptions;
  private readonly socket: dgram.Socket;
  private readonly tx: FrameQueue;
  /** The zone as a Buffer: sends name a range of it. */
  private readonly zoneBuf: Buffer;
  /** Per TX entry: 1 once its send completed (completions may come out of order). */
  private readonly sendDone: Uint8Array;
  /** One completion callback per TX entry, made once. */
  private readonly sendCbs: Array<(err: Error | null) => void>;
  private readonly lead: number;
  private readonly vni: number;
  private readonly remotePort: number;
  private readonly remoteAddress: string;
  private readonly onMessage: (msg: Buffer) => void;
  private nEvents = 0;
  private wake: () => void = noop;
  private closed = false;

  constructor(o: UdpOptions, mem: Memory, statsBase: number, statsOffset: number) {
    super(mem, statsBase, statsOffset, WIRE_KIND_UDP, o, UDP_RX_BYTES, UDP_RX_FRAMES, UDP_RX_BYTES + UDP_TX_BYTES, `${o.vdev}: wire=udp`);
    this.o = o;
    this.lead = o.vni === null ? 0 : VXLAN_HDR_LEN;
    this.vni = o.vni ?? -1;
    this.remotePort = o.remote.port;
    this.remoteAddress = o.remote.address;
    const base = this.zoneBase;
    this.zoneBuf = Buffer.from(mem.sab, base, UDP_RX_BYTES + UDP_TX_BYTES);
    this.tx = new FrameQueue(base + UDP_RX_BYTES, UDP_TX_BYTES, UDP_TX_FRAMES);
    this.sendDone = new Uint8Array(UDP_TX_FRAMES);
    this.sendCbs = [];
    for (let i = 0; i < UDP_TX_FRAMES; i++) this.sendCbs.push((err) => this.sent(i, err));
    this.onMessage = (msg) => this.receive(msg);
    this.socket = dgram.createSocket({ type: o.family === 6 ? "udp6" : "udp4", lookup: literalLookup as never });
    this.eventLoop = {
      open: () => this.open(),
      events: () => this.nEvents,
      setWake: (wake) => {
        this.wake = wake;
      },
    };
  }

  consume(u8: Uint8Array, addr: number, len: number): void {
    this.checker.consume(u8, addr, len);
    const f = this.f64;
    const s = this.s;
    const lead = this.lead;
    if (this.closed || lead + len > UDP_MAX_PAYLOAD) {
      f[s + S_WRITE_ERRORS]! += 1;
      f[s + S_LAST_WRITE_ERROR] = this.closed ? WRITE_ERROR_CLOSED : EMSGSIZE;
      return;
    }
    const at = this.tx.push(len, lead);
    if (at < 0) {
      f[s + S_SEND_DROPPED]! += 1;
      return;
    }
    if (lead !== 0) writeVxlanHeader(this.u8, at, this.vni);
    const dst = at + lead;
    if (u8 === this.u8) u8.copyWithin(dst, addr, addr + len);
    else this.u8.set(u8.subarray(addr, addr + len), dst); // not EAL memory: only tests do this
    const i = this.tx.lastIndex();
    try {
      this.socket.send(this.zoneBuf, at - this.zoneBase, lead + len, this.remotePort, this.remoteAddress, this.sendCbs[i]);
    } catch {
      // The socket is closed or was never bound (ERR_SOCKET_DGRAM_NOT_RUNNING): counted, never thrown.
      f[s + S_WRITE_ERRORS]! += 1;
      f[s + S_LAST_WRITE_ERROR] = WRITE_ERROR_CLOSED;
      this.release(i);
    }
  }

  /** The input is whatever the remote sends: never exhausted. */
  exhausted(): boolean {
    return false;
  }

  flush(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  /** Frames handed to the socket whose send has not completed yet. */
  inFlight(): number {
    return this.tx.count();
  }

  /** The bound local port (after open()). */
  localPort(): number {
    return this.socket.address().port;
  }

  /** A datagram arrived (event loop callback). */
  private receive(msg: Buffer): void {
    const f = this.f64;
    const s = this.s;
    this.nEvents = (this.nEvents + 1) & 0x3fffffff; // compared for change only: wraps as a small integer
    f[s + S_DATAGRAMS_IN]! += 1;
    const lead = this.lead;
    const dlen = msg.length;
    if (lead !== 0 && readVxlanVni(msg, 0, dlen) !== this.vni) {
      f[s + S_BAD_VXLAN]! += 1;
      return;
    }
    const flen = dlen - lead;
    if (flen < ETH_HDR_LEN) {
      f[s + S_BAD_LENGTH]! += 1;
      return;
    }
    const at = this.rx.push(flen, lead);
    if (at < 0) {
      this.rxOverflow(flen);
      return;
    }
    this.u8.set(msg, at);
    this.wake();
  }

  /** A send completed (event loop callback). */
  private sent(i: number, err: Error | null): void {
    this.nEvents = (this.nEvents + 1) & 0x3fffffff; // compared for change only: wraps as a small integer
    if (err) {
      this.f64[this.s + S_WRITE_ERRORS]! += 1;
      recordWriteError(this.f64, this.s, err);
    } else this.f64[this.s + S_DATAGRAMS_OUT]! += 1;
    this.release(i);
  }

  /** Mark TX entry i free and recycle the completed entries at the front, in order. */
  private release(i: number): void {
    const q = this.tx;
    const done = this.sendDone;
    done[i] = 1;
    while (q.count() > 0 && done[q.frontIndex()] === 1) {
      done[q.frontIndex()] = 0;
      q.pop();
    }
  }

  private open(): Promise<void> {
    const o = this.o;
    const sock = this.socket;
    const where = o.family === 6 ? `[${o.local.address}]:${o.local.port}` : `${o.local.address}:${o.local.port}`;
    return new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        const code = e.code ?? "EIO";
        const fix =
          code === "EADDRINUSE" ? "another socket has it; choose a free port"
          : code === "EADDRNOTAVAIL" ? "it is not an address of this host; use one `ip addr` shows"
          : code === "EACCES" ? "ports below 1024 need privileges; choose a higher one"
          : "check the address";
        reject(new TpdkError(code, `${o.vdev}: wire=udp cannot bind local=${where}: ${code}; ${fix}`));
      };
      sock.once("error", onError);
      sock.bind({ address: o.local.address, port: o.local.port, exclusive: true }, () => {
        sock.off("error", onError);
        // After bind, errors are per send (their callbacks count them); an
        // 'error' event without a listener would kill the device thread.
        sock.on("error", noop);
        try {
          sock.setRecvBufferSize(SOCKET_BUFFER_BYTES);
          sock.setSendBufferSize(SOCKET_BUFFER_BYTES);
        } catch {
          // the kernel's limits stand
        }
        sock.on("message", this.onMessage);
        resolve();
      });
    });
  }
}

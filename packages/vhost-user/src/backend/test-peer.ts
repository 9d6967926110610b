import { readdirSync } from "node:fs";
import type { NativeBinding } from "@tpdk/native";
import { type MemoryRegion, addrPayload, decodeHeader, encode, memTablePayload, statePayload, u64Payload } from "../message.js";
import * as P from "../protocol.js";
import type { DataPlane, RingRun } from "./session.js";

/**
 * Test support (not exported from the package): a scripted vhost-user
 * front-end on a real socket, and a DataPlane that records what the session
 * told it. Lives beside the back-end's unit tests.
 */

export class RecordingPlane implements DataPlane {
  readonly running = new Map<number, RingRun>();
  readonly log: string[] = [];
  /** What stopRing reports as the base, per ring. */
  readonly bases = new Map<number, number>();
  startRing(r: RingRun): void {
    this.running.set(r.index, r);
    this.log.push(`start ${r.index}`);
  }
  stopRing(index: number): number {
    const r = this.running.get(index);
    this.running.delete(index);
    this.log.push(`stop ${index}`);
    return this.bases.get(index) ?? r?.base ?? 0;
  }
}

export class TestFrontend {
  readonly fd: number;
  constructor(private readonly native: NativeBinding, path: string) {
    this.fd = native.unixConnect(path, 1000);
  }
  send(request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = [], flags = 0): void {
    this.raw(encode(request, flags, payload), fds);
  }
  raw(bytes: Uint8Array, fds: number[] = []): void {
    const n = this.native.sendMsg(this.fd, bytes, fds);
    if (n !== bytes.length) throw new Error(`short send ${n}`);
  }
  /** Wait (bounded, without blocking the loop) for one reply; null on EOF. */
  async reply(timeoutMs = 2000): Promise<{ request: number; flags: number; payload: Uint8Array } | null> {
    const buf = new Uint8Array(P.HEADER_BYTES + P.MAX_PAYLOAD_BYTES);
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    for (;;) {
      const r = this.native.recvMsg(this.fd, buf.subarray(got));
      for (const fd of r.fds) this.native.close(fd);
      if (r.bytes === 0) return null;
      if (r.bytes > 0) got += r.bytes;
      if (got >= P.HEADER_BYTES) {
        const h = decodeHeader(buf.subarray(0, P.HEADER_BYTES))!;
        if (got >= P.HEADER_BYTES + h.size) return { request: h.request, flags: h.flags, payload: buf.slice(P.HEADER_BYTES, P.HEADER_BYTES + h.size) };
      }
      if (Date.now() > deadline) throw new Error("no reply");
      await new Promise((res) => setTimeout(res, 2));
    }
  }
  /** True once the back-end has closed the connection (bounded wait). */
  async closedByPeer(timeoutMs = 2000): Promise<boolean> {
    const buf = new Uint8Array(64);
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
  close(): void {
    this.native.close(this.fd);
  }
}

export const msg = {
  u64: u64Payload,
  state: (index: number, num: number) => statePayload({ index, num }),
  addr: (index: number, desc: number, used: number, avail: number) => addrPayload({ index, flags: 0, desc, used, avail, log: 0 }),
  mem: (regions: MemoryRegion[]) => memTablePayload(regions),
};

/** Let the event loop run the back-end's watch callbacks. */
export async function settle(ms = 20): Promise<void> {
  await new Promise((res) => setTimeout(res, ms));
}

/** Open fds of this process (for leak checks). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

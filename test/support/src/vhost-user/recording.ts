// A DataPlane that records what a back-end session told it, payload
// shorthands for the messages tests send, and the waits and fd counts the
// back-end's tests share.
import { readdirSync } from "node:fs";
import { type DataPlane, type MemoryRegion, type RingRun, addrPayload, memTablePayload, statePayload, u64Payload } from "@tpdk/vhost-user";

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

import type { GuestMemoryTable } from "./guest-memory.js";
import { PACKED_EVENT_SUPPRESS_SIZE, availRingBytes, descTableBytes, usedRingBytes } from "@tpdk/virtio";

/**
 * One virtqueue as the front-end has described it so far (control path).
 * Ring 2q is the front-end's receive queue of pair q (the back-end writes
 * it: net_vhost's txBurst), ring 2q+1 its transmit queue (net_vhost's rxBurst).
 */
export class BackendRing {
  /** SET_VRING_NUM; 0 = not set. */
  size = 0;
  /** SET_VRING_ADDR: front-end virtual addresses; -1 = not set. */
  descUva = -1;
  availUva = -1;
  usedUva = -1;
  /** SET_VRING_BASE / what GET_VRING_BASE reports: the next avail entry the back-end reads. */
  base = 0;
  kickFd = -1;
  callFd = -1;
  /** SET_VRING_KICK since the last stop (the spec's "started"). */
  started = false;
  /** SET_VRING_ENABLE (rings start disabled once PROTOCOL_FEATURES is negotiated). */
  enabled = false;
  /** Handed to the data plane. */
  running = false;

  constructor(readonly index: number) {}

  /** Ready to be processed: described, started, enabled, with memory. */
  wantsToRun(mem: GuestMemoryTable | null): boolean {
    return mem !== null && this.started && this.enabled && this.size !== 0 && this.descUva >= 0;
  }

  /**
   * The three parts as offsets in the mapping (split, virtio 1.2 §2.7: size a
   * power of two, alignments 16, 2, 4; packed, §2.8: any size, the descriptor
   * ring aligned 16, the driver and device event suppression areas (avail and
   * used addresses) 4 bytes each, aligned 4), or a reason when the size does
   * not fit the layout or a part lies outside every region.
   */
  locate(mem: GuestMemoryTable, packed: boolean): { desc: number; avail: number; used: number } | string {
    const q = this.size;
    if (!packed && (q & (q - 1)) !== 0) return `ring ${this.index}: size ${q} is not a power of two (split ring, virtio 1.2 §2.7)`;
    const desc = mem.translateUva(this.descUva, packed ? 16 * q : descTableBytes(q));
    const avail = mem.translateUva(this.availUva, packed ? PACKED_EVENT_SUPPRESS_SIZE : availRingBytes(q));
    const used = mem.translateUva(this.usedUva, packed ? PACKED_EVENT_SUPPRESS_SIZE : usedRingBytes(q));
    if (desc < 0 || avail < 0 || used < 0) return `ring ${this.index}: an address lies in no memory region (desc 0x${this.descUva.toString(16)}, avail 0x${this.availUva.toString(16)}, used 0x${this.usedUva.toString(16)})`;
    if (desc % 16 !== 0 || avail % 2 !== 0 || used % 4 !== 0) return `ring ${this.index}: misaligned ring (virtio 1.2 §2.7)`;
    return { desc, avail, used };
  }
}

import { TpdkError } from "@tpdk/eal";
import type { NativeBinding } from "@tpdk/native";
import { type Features } from "@tpdk/virtio";
import { addrPayload, decodeState, decodeU64, memTablePayload, statePayload, u64Payload, type MemoryRegion } from "./message.js";
import {
  FLAG_NEED_REPLY, GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_VRING_BASE, PROTOCOL_F_MQ, PROTOCOL_F_REPLY_ACK,
  SET_FEATURES, SET_MEM_TABLE, SET_OWNER, SET_PROTOCOL_FEATURES, SET_VRING_ADDR, SET_VRING_BASE, SET_VRING_CALL,
  SET_VRING_ENABLE, SET_VRING_KICK, SET_VRING_NUM, VHOST_USER_F_PROTOCOL_FEATURES, requestName,
} from "./protocol.js";
import { SyncChannel } from "./sync-channel.js";

/** Protocol features the front-end asks for (the rest it does not use). */
const WANTED_PROTOCOL_FEATURES = (1 << PROTOCOL_F_MQ) | (1 << PROTOCOL_F_REPLY_ACK);

export interface RingSetup {
  /** vhost-user ring index = virtio queue index (RX 2q, TX 2q+1). */
  index: number;
  num: number;
  /** Where the back-end starts reading avail (the used index for a ring that already ran). */
  base: number;
  /** Front-end virtual addresses (userspace_addr + bus address). */
  desc: number;
  avail: number;
  used: number;
  kickFd: number;
  callFd: number;
}

/** What the back-end said at the handshake. */
export interface BackendInfo {
  features: Features;
  protocolFeatures: number;
  /** GET_QUEUE_NUM under protocol MQ (queue pairs), else 1. */
  queuePairs: number;
}

function featuresToNumber(f: Features): number {
  return f.hi * 0x1_0000_0000 + (f.lo >>> 0);
}
function numberToFeatures(n: number): Features {
  return { lo: n % 0x1_0000_0000 >>> 0, hi: Math.floor(n / 0x1_0000_0000) >>> 0 };
}

/**
 * The front-end's side of the vhost-user conversation, one step per method,
 * in the order DPDK's virtio_user_dev sends them (and which DPDK's back-end
 * accepts; see shared/reference/vhost-user-facts.md §2). Each step waits for
 * its answer (GET_* replies, or the REPLY_ACK u64 once REPLY_ACK is
 * negotiated) so a refusal is reported at the step that caused it.
 */
export class VhostUserFrontend {
  readonly channel: SyncChannel;
  readonly name: string;
  private replyAck = false;
  private protocolFeaturesOn = false;

  constructor(native: NativeBinding, fd: number, name: string, timeoutMs: number) {
    this.name = name;
    this.channel = new SyncChannel(native, fd, name, timeoutMs);
  }

  /** SET_OWNER, GET_FEATURES, then the protocol features and the queue count when the back-end has them. */
  handshake(): BackendInfo {
    this.channel.send(SET_OWNER);
    const features = this.getU64(GET_FEATURES);
    let protocolFeatures = 0;
    let queuePairs = 1;
    this.protocolFeaturesOn = ((features.lo >>> VHOST_USER_F_PROTOCOL_FEATURES) & 1) === 1;
    if (this.protocolFeaturesOn) {
      const offered = this.getU64(GET_PROTOCOL_FEATURES);
      protocolFeatures = offered.lo & WANTED_PROTOCOL_FEATURES;
      this.channel.send(SET_PROTOCOL_FEATURES, u64Payload(protocolFeatures));
      this.replyAck = (protocolFeatures & (1 << PROTOCOL_F_REPLY_ACK)) !== 0;
      if (protocolFeatures & (1 << PROTOCOL_F_MQ)) {
        const n = featuresToNumber(this.getU64(GET_QUEUE_NUM));
        // GET_QUEUE_NUM counts queue pairs for net back-ends (DPDK: VHOST_MAX_QUEUE_PAIRS).
        if (!(n >= 1)) throw new TpdkError("EPROTO", `${this.name}: vhost-user back-end reports ${n} queues (GET_QUEUE_NUM)`);
        queuePairs = Math.min(n, 0x8000);
      }
    }
    return { features, protocolFeatures, queuePairs };
  }

  /** Rings start disabled when PROTOCOL_FEATURES was negotiated: SET_VRING_ENABLE is then needed. */
  get needsEnable(): boolean {
    return this.protocolFeaturesOn;
  }

  setFeatures(f: Features): void {
    const withProtocol = this.protocolFeaturesOn ? { lo: (f.lo | (1 << VHOST_USER_F_PROTOCOL_FEATURES)) >>> 0, hi: f.hi } : f;
    this.set(SET_FEATURES, u64Payload(featuresToNumber(withProtocol)));
  }

  setMemTable(regions: readonly MemoryRegion[], fds: readonly number[]): void {
    this.set(SET_MEM_TABLE, memTablePayload(regions), fds);
  }

  /** NUM, BASE, ADDR, KICK, CALL: the order DPDK's front-end uses. */
  setupRing(r: RingSetup): void {
    this.set(SET_VRING_NUM, statePayload({ index: r.index, num: r.num }));
    this.set(SET_VRING_BASE, statePayload({ index: r.index, num: r.base }));
    this.set(SET_VRING_ADDR, addrPayload({ index: r.index, flags: 0, desc: r.desc, used: r.used, avail: r.avail, log: 0 }));
    this.set(SET_VRING_KICK, u64Payload(r.index), [r.kickFd]);
    this.set(SET_VRING_CALL, u64Payload(r.index), [r.callFd]);
  }

  enableRing(index: number, enable: boolean): void {
    if (this.protocolFeaturesOn) this.set(SET_VRING_ENABLE, statePayload({ index, num: enable ? 1 : 0 }));
  }

  /** GET_VRING_BASE: stops the ring; returns the back-end's next avail index. */
  getRingBase(index: number): number {
    const p = this.channel.call(GET_VRING_BASE, statePayload({ index, num: 0 }));
    const s = decodeState(p);
    if (!s || s.index !== index || s.num > 0xffff) {
      throw new TpdkError("EPROTO", `${this.name}: vhost-user back-end answered GET_VRING_BASE for ring ${index} with a bad payload (${p.length} bytes)`);
    }
    return s.num;
  }

  close(): void {
    this.channel.close();
  }

  private getU64(request: number): Features {
    const p = this.channel.call(request);
    const n = decodeU64(p);
    if (n === null) throw new TpdkError("EPROTO", `${this.name}: vhost-user back-end answered ${requestName(request)} with ${p.length} bytes, expected 8`);
    return numberToFeatures(n);
  }

  /** A request without a reply of its own: with REPLY_ACK, ask for the ack and check it. */
  private set(request: number, payload: Uint8Array, fds: readonly number[] = []): void {
    if (!this.replyAck) {
      this.channel.send(request, payload, fds);
      return;
    }
    const p = this.channel.call(request, payload, fds, FLAG_NEED_REPLY);
    const status = decodeU64(p);
    if (status === null) throw new TpdkError("EPROTO", `${this.name}: vhost-user back-end acknowledged ${requestName(request)} with ${p.length} bytes, expected 8`);
    if (status !== 0) throw new TpdkError("EREFUSED", `${this.name}: vhost-user back-end refused ${requestName(request)} (status ${status})`);
  }
}

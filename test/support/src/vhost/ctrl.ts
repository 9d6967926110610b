import { CTRL_HDR_SIZE, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from "@tpdk/virtio";
import type { Fixture } from "./fixture.js";

/** What the device did with a control command sent by sendCtrl. */
export interface CtrlResult {
  /** The ack byte the device wrote (VIRTIO_NET_OK / VIRTIO_NET_ERR), or -1 when it wrote none. */
  ack: number;
  /** The used entry's len (1 with an ack, 0 for a chain returned unanswered), or -1 when not returned. */
  len: number;
}

/**
 * Send one well-formed control command on the fixture's control queue as a
 * driver would (virtio 1.2 §5.1.6.5): header descriptor (class, command),
 * a data descriptor when there is data, then a 1-byte device-writable ack;
 * kick, and step the device loop until the chain comes back (at most
 * `passes` passes).
 */
export function sendCtrl(f: Fixture, cls: number, cmd: number, data: ArrayLike<number> = [], passes = 8): CtrlResult {
  const r = f.ctrl;
  const u8 = f.mem.u8;
  const hdr = f.arena.alloc(CTRL_HDR_SIZE);
  u8[hdr] = cls;
  u8[hdr + 1] = cmd;
  const ack = f.arena.alloc(1);
  u8[ack] = 0xee;
  if (data.length > 0) {
    const d = f.arena.alloc(data.length);
    for (let i = 0; i < data.length; i++) u8[d + i] = data[i]!;
    r.setDesc(0, hdr, CTRL_HDR_SIZE, VRING_DESC_F_NEXT, 1);
    r.setDesc(1, d, data.length, VRING_DESC_F_NEXT, 2);
  } else {
    r.setDesc(0, hdr, CTRL_HDR_SIZE, VRING_DESC_F_NEXT, 2);
  }
  r.setDesc(2, ack, 1, VRING_DESC_F_WRITE);
  return postCtrl(f, 0, ack, passes);
}

/**
 * Post the chain at `head` (descriptors already written by the test, well-
 * formed or not), kick, step until it is returned. `ackAddr` is read back
 * as the ack when the used len is at least 1.
 */
export function postCtrl(f: Fixture, head: number, ackAddr: number, passes = 8): CtrlResult {
  const r = f.ctrl;
  const before = r.usedIdx();
  const slot = r.availIdx;
  r.add(head);
  r.publish();
  f.client.kick(f.ctrlIndex);
  for (let i = 0; i < passes && r.usedIdx() === before; i++) f.pass();
  if (r.usedIdx() === before) return { ack: -1, len: -1 };
  const e = r.usedElem(slot);
  return { ack: e.len >= 1 ? f.mem.u8[ackAddr]! : -1, len: e.len };
}

import { describe, expect, it } from "vitest";
import { Memory } from "@tpdk/eal";
import * as v from "@tpdk/virtio";
import { CtrlResponder } from "./ctrl-responder.js";

// The front-end's control queue on a packed ring (virtio 1.2 §2.8, §5.1.6.5),
// written by hand as a driver would: commands across wrap counter flips,
// a list that is not complete yet, bad lists answered with len 0.

const A = v.VRING_PACKED_DESC_F_AVAIL;
const U = v.VRING_PACKED_DESC_F_USED;

function setup(size: number) {
  const mem = Memory.create(1 << 20);
  const l = v.packedRingLayout(size);
  const z = mem.reserve("cq", l.totalBytes, 64).offset;
  const buf = mem.reserve("buf", 4096, 64).offset;
  const pairs: number[] = [];
  const macs: number[][] = [];
  const r = new CtrlResponder(mem, {
    setQueuePairs: (n) => {
      pairs.push(n);
      return n <= 4;
    },
    setMac: (m) => macs.push(Array.from(m)),
  });
  r.attach(z + l.desc, z + l.driverEvent, z + l.deviceEvent, size, true);
  let pos = 0;
  let wrap = 1;
  let usedPos = 0;
  let usedWrap = 1;
  let cmdAt = buf;
  const put = (addr: number, len: number, flags: number, id: number, headFlags: number[] | null): void => {
    const d = z + 16 * pos;
    mem.u32[d >>> 2] = addr;
    mem.u32[(d >>> 2) + 1] = 0;
    mem.u32[(d >>> 2) + 2] = len;
    mem.u16[(d + 12) >>> 1] = id;
    const f = flags | v.packedAvailFlags(wrap);
    if (headFlags) headFlags.push((d + 14) >>> 1, f);
    else mem.u16[(d + 14) >>> 1] = f;
    if (++pos === size) {
      pos = 0;
      wrap ^= 1;
    }
  };
  /** Post one command (class, command, data) as 2 or 3 descriptors; `publish` false leaves the head unavailable. Returns the ack address. */
  const post = (cls: number, cmd: number, data: number[], id: number, publish = true): { ack: number; descs: number; head: [number, number] } => {
    const a = cmdAt;
    cmdAt += 64;
    mem.u8[a] = cls;
    mem.u8[a + 1] = cmd;
    mem.u8.set(data, a + 8);
    mem.u8[a + 48] = 0xff;
    const head: number[] = [];
    put(a, 2, v.VRING_DESC_F_NEXT, id, head);
    if (data.length) put(a + 8, data.length, v.VRING_DESC_F_NEXT, id, null);
    put(a + 48, 1, v.VRING_DESC_F_WRITE, id, null);
    if (publish) Atomics.store(mem.u16, head[0]!, head[1]!);
    return { ack: a + 48, descs: data.length ? 3 : 2, head: [head[0]!, head[1]!] };
  };
  /** The used descriptor at the driver's used position, or null; skips `descs` positions. */
  const used = (descs: number): { id: number; len: number; flags: number } | null => {
    const d = z + 16 * usedPos;
    const f = mem.u16[(d + 14) >>> 1]!;
    const w = usedWrap !== 0;
    if (((f & A) !== 0) !== w || ((f & U) !== 0) !== w) return null;
    usedPos += descs;
    if (usedPos >= size) {
      usedPos -= size;
      usedWrap ^= 1;
    }
    return { id: mem.u16[(d + 12) >>> 1]!, len: mem.u32[(d >>> 2) + 2]!, flags: f };
  };
  return { mem, r, post, used, pairs, macs, z };
}

describe("CtrlResponder on a packed ring (§2.8)", () => {
  it("answers commands in order across many wrap counter flips, with the list's buffer id and len 1", () => {
    const s = setup(7); // not a power of two; 2 or 3 descriptors per command
    for (let i = 0; i < 30; i++) {
      const mac = i % 2 === 0;
      const c = mac ? s.post(1, 1, [2, 0, 0, 0, 0, i], i) : s.post(v.VIRTIO_NET_CTRL_MQ, v.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, [i % 6, 0], i);
      expect(s.r.process()).toBe(1);
      const u = s.used(c.descs);
      expect(u).toMatchObject({ id: i, len: 1 });
      expect(u!.flags & v.VRING_DESC_F_WRITE).not.toBe(0);
      const ok = mac || (i % 6 >= 1 && i % 6 <= 4);
      expect(s.mem.u8[c.ack]).toBe(ok ? v.VIRTIO_NET_OK : v.VIRTIO_NET_ERR);
    }
    expect(s.macs.length).toBe(15);
    expect(s.macs[14]).toEqual([2, 0, 0, 0, 0, 28]);
    expect(s.r.process()).toBe(0);
  });

  it("waits for a list whose head is not available yet; several lists in one call", () => {
    const s = setup(8);
    const c = s.post(v.VIRTIO_NET_CTRL_RX, 0, [1], 5, false);
    expect(s.r.process()).toBe(0);
    Atomics.store(s.mem.u16, c.head[0], c.head[1]);
    s.post(v.VIRTIO_NET_CTRL_RX, 1, [0], 6);
    expect(s.r.process()).toBe(2);
    expect(s.used(3)).toMatchObject({ id: 5, len: 1 });
    expect(s.used(3)).toMatchObject({ id: 6, len: 1 });
  });

  it("a list pointing outside memory, or without a writable byte, is returned with len 0 and nothing executed", () => {
    const s = setup(8);
    const c = s.post(1, 1, [2, 0, 0, 0, 0, 9], 1);
    // Point the data descriptor outside memory.
    const d = s.z + 16 * 1;
    s.mem.u32[d >>> 2] = s.mem.size + 64;
    expect(s.r.process()).toBe(1);
    const u = s.used(3);
    expect(u).toMatchObject({ id: 1, len: 0 });
    expect(u!.flags & v.VRING_DESC_F_WRITE).toBe(0);
    expect(s.mem.u8[c.ack]).toBe(0xff);
    expect(s.macs).toEqual([]);
    // The next command is answered normally.
    s.post(1, 1, [2, 0, 0, 0, 0, 10], 2);
    expect(s.r.process()).toBe(1);
    expect(s.used(3)).toMatchObject({ id: 2, len: 1 });
    expect(s.macs).toEqual([[2, 0, 0, 0, 0, 10]]);
  });
});

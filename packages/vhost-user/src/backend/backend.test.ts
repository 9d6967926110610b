import { ftruncateSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { native, nativeMissingReason } from "@tpdk/native";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeState, decodeU64 } from "../message.js";
import * as P from "../protocol.js";
import { bit } from "./features.js";
import { VhostUserBackend } from "./server.js";
import { MessagePeer, RecordingPlane, msg, openFds, settle } from "@tpdk/testing/vhost-user";
import { ownedTempDir } from "@tpdk/testing/owned";

const n = native!;
/** Tests that close their own copies early: cleanup must not fail on them. */
function closeQuietly(fd: number): void {
  try {
    n.close(fd);
  } catch {
    // closed by the test already
  }
}
const MB = 1 << 20;
const VERSION_1 = 32;
const PROTOCOL_FEATURES = 30;

describe.skipIf(!native)(`net_vhost control path${native ? "" : ` (skipped: ${nativeMissingReason})`}`, () => {
  let dir: string;
  let path: string;
  const cleanup: (() => void)[] = [];
  beforeEach(() => {
    dir = ownedTempDir("nvhost");
    path = join(dir, "vhost.sock");
  });
  afterEach(() => {
    for (const c of cleanup.splice(0).reverse()) c();
    rmSync(dir, { recursive: true, force: true });
  });

  function backend(pairs = 1, requireSealed = false): { be: VhostUserBackend; dp: RecordingPlane } {
    const dp = new RecordingPlane();
    const be = new VhostUserBackend(n, { name: "net_vhost0", path, client: false, queuePairs: pairs, requireSealed }, dp);
    be.start();
    cleanup.push(() => be.close());
    return { be, dp };
  }
  function frontend(): MessagePeer {
    const fe = MessagePeer.open(n, path);
    cleanup.push(() => fe.close());
    return fe;
  }
  function memfd(size: number, seal = false): number {
    const fd = n.memfdCreate("nvhost-test", size, { allowSealing: true });
    if (seal) n.addSeals(fd, n.F_SEAL_SHRINK);
    cleanup.push(() => n.close(fd));
    return fd;
  }
  function eventfd(): number {
    const fd = n.eventfd(0);
    cleanup.push(() => closeQuietly(fd));
    return fd;
  }

  /** DPDK virtio_user's order (measured): SET_VRING_CALL before SET_FEATURES, one region above 4 GiB. */
  async function dpdkSequence(fe: MessagePeer, mem: number, base = 0x1_0033_8000): Promise<void> {
    fe.send(P.SET_OWNER);
    fe.send(P.GET_FEATURES);
    const f = decodeU64((await fe.reply())!.payload)!;
    expect(f % bit(VERSION_1 + 1) >= bit(VERSION_1)).toBe(true);
    fe.send(P.GET_PROTOCOL_FEATURES);
    await fe.reply();
    fe.send(P.SET_PROTOCOL_FEATURES, msg.u64(bit(P.PROTOCOL_F_REPLY_ACK) + bit(P.PROTOCOL_F_MQ)));
    fe.send(P.SET_VRING_CALL, msg.u64(0), [eventfd()]);
    fe.send(P.SET_VRING_CALL, msg.u64(1), [eventfd()]);
    fe.send(P.SET_FEATURES, msg.u64(bit(VERSION_1) + bit(PROTOCOL_FEATURES)));
    fe.send(P.SET_MEM_TABLE, msg.mem([{ guestPhysAddr: base, memorySize: MB, userspaceAddr: base, mmapOffset: 0 }]), [mem], P.FLAG_NEED_REPLY);
    expect(decodeU64((await fe.reply())!.payload)).toBe(0);
    for (const q of [0, 1]) {
      const at = base + q * 0x4000;
      fe.send(P.SET_VRING_NUM, msg.state(q, 256));
      fe.send(P.SET_VRING_BASE, msg.state(q, 0));
      fe.send(P.SET_VRING_ADDR, msg.addr(q, at, at + 0x2000, at + 0x1000));
      fe.send(P.SET_VRING_KICK, msg.u64(q), [eventfd()]);
    }
    fe.send(P.SET_VRING_ENABLE, msg.state(0, 1));
    fe.send(P.SET_VRING_ENABLE, msg.state(1, 1), [], P.FLAG_NEED_REPLY);
    expect(decodeU64((await fe.reply())!.payload)).toBe(0);
  }

  it("takes DPDK virtio_user's sequence: rings start with translated offsets, link up, REPLY_ACK", async () => {
    const { be, dp } = backend();
    const links: boolean[] = [];
    be.onLinkChange((up) => links.push(up));
    const fe = frontend();
    await dpdkSequence(fe, memfd(MB));
    expect([...dp.running.keys()].sort()).toEqual([0, 1]);
    const r1 = dp.running.get(1)!;
    expect({ desc: r1.desc, avail: r1.avail, used: r1.used, size: r1.size }).toEqual({ desc: 0x4000, avail: 0x5000, used: 0x6000, size: 256 });
    expect(r1.memory.translateGpa(0x1_0033_8000 + 100, 60)).toBe(100);
    expect(r1.memory.translateGpa(0x1_0033_8000 + MB - 10, 60)).toBe(-1);
    expect(r1.memory.sealed).toBe(false);
    expect(be.link).toBe(true);
    expect(links).toEqual([true]);
    expect(be.counters).toMatchObject({ connections: 1, protocolErrors: 0, unsealedTables: 1 });
  });

  it("GET_VRING_BASE stops the ring and answers the data path's index; SET_VRING_BASE resumes there", async () => {
    const { be, dp } = backend();
    const fe = frontend();
    await dpdkSequence(fe, memfd(MB));
    dp.bases.set(1, 1234);
    fe.send(P.SET_VRING_ENABLE, msg.state(1, 0));
    fe.send(P.GET_VRING_BASE, msg.state(1, 0));
    expect(decodeState((await fe.reply())!.payload)).toEqual({ index: 1, num: 1234 });
    expect(dp.running.has(1)).toBe(false);
    expect(be.link).toBe(false);
    fe.send(P.SET_VRING_BASE, msg.state(1, 1234));
    fe.send(P.SET_VRING_KICK, msg.u64(1 | P.VRING_NOFD_MASK));
    fe.send(P.SET_VRING_ENABLE, msg.state(1, 1), [], P.FLAG_NEED_REPLY);
    await fe.reply();
    expect(dp.running.get(1)!.base).toBe(1234);
    expect(be.link).toBe(true);
  });

  it("takes QEMU's table (two regions of one memfd) and translates both address kinds", async () => {
    const { dp } = backend();
    const fe = frontend();
    const mem = memfd(4 * MB, true);
    fe.send(P.GET_FEATURES);
    await fe.reply();
    fe.send(P.GET_PROTOCOL_FEATURES);
    await fe.reply();
    fe.send(P.SET_PROTOCOL_FEATURES, msg.u64(bit(P.PROTOCOL_F_REPLY_ACK)));
    fe.send(P.GET_QUEUE_NUM);
    expect(decodeU64((await fe.reply())!.payload)).toBe(1);
    fe.send(P.SET_OWNER);
    fe.send(P.SET_FEATURES, msg.u64(bit(VERSION_1) + bit(PROTOCOL_FEATURES)));
    const uva = 0x7f00_0000_0000;
    fe.send(P.SET_MEM_TABLE, msg.mem([
      { guestPhysAddr: 0, memorySize: 0xa0000, userspaceAddr: uva, mmapOffset: 0 },
      { guestPhysAddr: 0xc0000, memorySize: 4 * MB - 0xc0000, userspaceAddr: uva + 0xc0000, mmapOffset: 0xc0000 },
    ]), [mem, mem], P.FLAG_NEED_REPLY);
    expect(decodeU64((await fe.reply())!.payload)).toBe(0);
    fe.send(P.SET_VRING_NUM, msg.state(0, 128));
    fe.send(P.SET_VRING_ADDR, msg.addr(0, uva + 0x100000, uva + 0x102000, uva + 0x101000));
    fe.send(P.SET_VRING_KICK, msg.u64(0), [eventfd()]);
    fe.send(P.SET_VRING_CALL, msg.u64(0), [eventfd()]);
    fe.send(P.SET_VRING_ENABLE, msg.state(0, 1), [], P.FLAG_NEED_REPLY);
    await fe.reply();
    const r = dp.running.get(0)!;
    expect(r.desc).toBe(0x100000);
    expect(r.memory.sealed).toBe(true);
    expect(r.memory.translateGpa(0xa0000, 1)).toBe(-1); // the hole between the regions
    expect(r.memory.translateGpa(0x9ff00, 0x200)).toBe(-1); // crosses region 0's end
    expect(r.memory.translateGpa(0xc0000 + 5, 10)).toBe(0xc0005);
  });

  it("sealed memory is safe: the front-end cannot shrink it under the mapping; sealed=1 takes it", async () => {
    const { dp } = backend(1, true);
    const fe = frontend();
    const mem = memfd(MB, true);
    await dpdkSequence(fe, mem);
    const r = dp.running.get(1)!;
    expect(r.memory.sealed).toBe(true);
    // The peer's own fd: shrinking is refused by the kernel (EPERM), so no page of our mapping can go.
    expect(() => ftruncateSync(mem, 4096)).toThrow(/EPERM|not permitted/);
    const view = new Uint8Array(n.mmapShared(mem, MB, 0));
    view[MB - 1] = 7;
    expect(view[MB - 1]).toBe(7);
  });

  it("refuses unsealed memory with sealed=1 (closing the connection)", async () => {
    const { be } = backend(1, true);
    const fe = frontend();
    fe.send(P.SET_OWNER);
    fe.send(P.SET_MEM_TABLE, msg.mem([{ guestPhysAddr: 0, memorySize: MB, userspaceAddr: 0, mmapOffset: 0 }]), [memfd(MB)]);
    expect(await fe.closedByPeer()).toBe(true);
    expect(be.counters.protocolErrors).toBe(1);
    expect(be.counters.lastError).toMatch(/not sealed/);
  });

  it("a disconnect stops the rings and closes every fd it was given; a new front-end is accepted", async () => {
    const { be, dp } = backend();
    const before = openFds();
    const fe = MessagePeer.open(n, path);
    const mem = n.memfdCreate("t", MB);
    // Every fd is sent, then our copies are closed: what stays open is the back-end's.
    await dpdkSequence(fe, mem);
    for (const fd of new Set(fe.fdsSent)) n.close(fd);
    await settle();
    expect(openFds()).toBeGreaterThan(before);
    fe.close();
    await settle(50);
    expect(dp.running.size).toBe(0);
    expect(be.link).toBe(false);
    expect(be.connected).toBe(false);
    // The fds counted before include the ones eventfd() registered for cleanup: none of those were used here.
    expect(openFds()).toBe(before);
    const fe2 = frontend();
    await dpdkSequence(fe2, memfd(MB));
    expect(be.link).toBe(true);
    expect(be.counters).toMatchObject({ connections: 2, disconnects: 1, protocolErrors: 0 });
  });

  it("removes a stale socket file but never a regular file", () => {
    writeFileSync(path, "");
    const dp = new RecordingPlane();
    const be = new VhostUserBackend(n, { name: "net_vhost0", path, client: false, queuePairs: 1, requireSealed: false }, dp);
    expect(() => be.start()).toThrow(/not a socket/);
    rmSync(path);
    const stale = n.unixListen(path);
    n.close(stale); // the file stays behind
    backend();
    frontend();
  });

  it("client=1 connects to a listening front-end and retries until it is there", async () => {
    const dp = new RecordingPlane();
    const be = new VhostUserBackend(n, { name: "net_vhost0", path, client: true, queuePairs: 1, requireSealed: false, reconnectMs: 20 }, dp);
    be.start();
    cleanup.push(() => be.close());
    expect(be.connected).toBe(false);
    const lfd = n.unixListen(path);
    cleanup.push(() => n.close(lfd));
    let conn = -1;
    for (let i = 0; i < 100 && conn < 0; i++) {
      await settle(10);
      conn = n.unixAccept(lfd);
    }
    expect(conn).toBeGreaterThanOrEqual(0);
    cleanup.push(() => n.close(conn));
    expect(be.connected).toBe(true);
  });
});

// net_vhost with packed virtqueues (virtio 1.2 §2.8) against DPDK's
// virtio_user with packed_vq=1: RING_PACKED is offered, the front-end takes
// it, and the device core's packed queue (PackedDeviceQueue, the walk the
// built-in device runs) serves the rings from l2fwd's lcore. Every frame
// counted on both sides; txonly frames byte-checked through a pcap.
import { afterEach, describe, expect, it } from "vitest";
import { PeerSession, TXONLY_FRAME, netVhostIntoRxonly, testpmdMissing, txonlyFrameFields, txonlyIntoNetVhost } from "@tpdk/testing/e2e";

const missing = testpmdMissing();
const peers = new PeerSession();
afterEach(peers.close);

describe.skipIf(missing !== null)(`net_vhost packed rings against DPDK testpmd's virtio_user packed_vq=1${missing ? ` (skipped: ${missing})` : ""}`, () => {
  for (const v of [{ name: "IN_ORDER, MRG_RXBUF, 256 entries", keys: "" }, { name: "in_order=0, queue_size=1000 (not a power of two)", keys: ",in_order=0,queue_size=1000" }]) {
    it(`testpmd txonly into l2fwd's net_vhost port: every frame received and written, byte-checked (${v.name})`, async () => {
      // keys go to the front-end only here (l2fwd's port takes no in_order or queue_size).
      const { sent, ports: [p0, p1], frames } = await txonlyIntoNetVhost(peers, { prefix: "nv-ptx", packed: true, frontEndKeys: v.keys });
      expect(sent.txPackets).toBeGreaterThan(1000);
      expect(p0!.rx, JSON.stringify([p0, p1])).toBe(sent.txPackets);
      // The rings were packed ones (the port counts connections that negotiated RING_PACKED).
      expect(p0!.xstats!.vhost_packed_connections).toBe(1);
      expect(p1!.tx! + p1!.dropped!).toBe(p0!.rx);
      expect(frames.length).toBe(p1!.tx);
      const f0 = frames[0]!;
      expect(txonlyFrameFields(f0)).toEqual(TXONLY_FRAME);
      for (const f of frames) expect(Buffer.compare(Buffer.from(f), Buffer.from(f0))).toBe(0);
    }, 60_000);
  }

  it("l2fwd into testpmd rxonly on packed rings: testpmd counts exactly the frames the net_vhost port counted as sent", async () => {
    const { got, ports: [p0, p1], offered } = await netVhostIntoRxonly(peers, { prefix: "nv-prx", packed: true });
    const why = JSON.stringify({ got, p0, p1 });
    expect(p0!.rx! + p0!.missed!, why).toBeLessThanOrEqual(offered);
    expect(p0!.rx, why).toBe(p1!.tx! + p1!.dropped!);
    expect(p1!.tx, why).toBeGreaterThan(1000);
    expect(p1!.xstats!.vhost_packed_connections).toBe(1);
    // sent = delivered, as on split rings (net-vhost-dpdk.test.ts).
    expect(got.rxPackets, why).toBe(p1!.tx);
  }, 60_000);
});

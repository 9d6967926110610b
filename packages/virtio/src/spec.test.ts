import { describe, expect, it } from "vitest";
import * as v from "./index.js";

// Each number here is the specification's (virtio 1.2), written out by hand:
// a change to a constant must fail this file, as a static_assert would.
describe("split virtqueue layout (§2.7)", () => {
  it("pins the descriptor, avail and used layouts", () => {
    expect([v.DESC_SIZE, v.DESC_ADDR, v.DESC_LEN, v.DESC_FLAGS, v.DESC_NEXT]).toEqual([16, 0, 8, 12, 14]);
    expect([v.VRING_DESC_F_NEXT, v.VRING_DESC_F_WRITE, v.VRING_DESC_F_INDIRECT]).toEqual([1, 2, 4]);
    expect([v.AVAIL_FLAGS, v.AVAIL_IDX, v.AVAIL_RING, v.VRING_AVAIL_F_NO_INTERRUPT]).toEqual([0, 2, 4, 1]);
    expect([v.USED_FLAGS, v.USED_IDX, v.USED_RING, v.USED_ELEM_SIZE, v.VRING_USED_F_NO_NOTIFY]).toEqual([0, 2, 4, 8, 1]);
    expect([v.DESC_ALIGN, v.AVAIL_ALIGN, v.USED_ALIGN]).toEqual([16, 2, 4]);
  });

  it("computes part sizes and event offsets for a queue size", () => {
    expect(v.descTableBytes(256)).toBe(4096);
    expect(v.availRingBytes(256)).toBe(6 + 2 * 256);
    expect(v.usedRingBytes(256)).toBe(6 + 8 * 256);
    expect(v.usedEventOffset(256)).toBe(4 + 512);
    expect(v.availEventOffset(256)).toBe(4 + 2048);
  });

  it("lays the parts out aligned and disjoint", () => {
    for (const q of [1, 2, 64, 256, 1024, 4096, 32768]) {
      const l = v.splitRingLayout(q);
      expect(l.avail % 64).toBe(0);
      expect(l.used % 64).toBe(0);
      expect(l.avail).toBeGreaterThanOrEqual(l.desc + v.descTableBytes(q));
      expect(l.used).toBeGreaterThanOrEqual(l.avail + v.availRingBytes(q));
      expect(l.totalBytes).toBeGreaterThanOrEqual(l.used + v.usedRingBytes(q));
    }
  });

  it("rejects queue sizes that are not powers of two up to 32768", () => {
    for (const q of [0, 3, 1000, 65536, -4, 1.5]) expect(() => v.splitRingLayout(q)).toThrow(RangeError);
    expect(v.isValidQueueSize(32768)).toBe(true);
  });

  it("vring_need_event matches the spec formula, across the u16 wrap", () => {
    // notify iff event lies in [old, new)
    expect(v.vringNeedEvent(5, 6, 5)).toBe(true);
    expect(v.vringNeedEvent(6, 6, 5)).toBe(false);
    expect(v.vringNeedEvent(4, 6, 5)).toBe(false);
    expect(v.vringNeedEvent(0xffff, 1, 0xfffe)).toBe(true);
    expect(v.vringNeedEvent(0, 1, 0xfffe)).toBe(true);
    expect(v.vringNeedEvent(1, 1, 0xfffe)).toBe(false);
    // brute force against the definition
    for (let old = 0xfff0; old < 0x10010; old += 3) {
      for (let n = 1; n < 8; n++) {
        const nw = (old + n) & 0xffff;
        for (let e = 0; e < 12; e++) {
          const ev = (old - 2 + e) & 0xffff;
          const inWindow = ((ev - old) & 0xffff) < n;
          expect(v.vringNeedEvent(ev, nw, old & 0xffff)).toBe(inWindow);
        }
      }
    }
  });
});

describe("features, status, net (§2.1, §5.1, §6)", () => {
  it("pins the feature bits", () => {
    expect([v.VIRTIO_NET_F_CSUM, v.VIRTIO_NET_F_GUEST_CSUM, v.VIRTIO_NET_F_MTU, v.VIRTIO_NET_F_MAC]).toEqual([0, 1, 3, 5]);
    expect([v.VIRTIO_NET_F_MRG_RXBUF, v.VIRTIO_NET_F_STATUS, v.VIRTIO_NET_F_CTRL_VQ, v.VIRTIO_NET_F_MQ]).toEqual([15, 16, 17, 22]);
    expect([v.VIRTIO_F_ANY_LAYOUT, v.VIRTIO_F_INDIRECT_DESC, v.VIRTIO_F_EVENT_IDX]).toEqual([27, 28, 29]);
    expect([v.VIRTIO_F_VERSION_1, v.VIRTIO_F_ACCESS_PLATFORM, v.VIRTIO_F_RING_PACKED, v.VIRTIO_F_IN_ORDER]).toEqual([32, 33, 34, 35]);
  });

  it("carries 64-bit feature sets as two u32 words", () => {
    const f = v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MAC, v.VIRTIO_F_IN_ORDER, 31);
    expect(f).toEqual({ lo: ((1 << 5) | (1 << 31)) >>> 0, hi: (1 << 0) | (1 << 3) });
    expect(v.hasFeature(f, v.VIRTIO_F_IN_ORDER)).toBe(true);
    expect(v.hasFeature(f, v.VIRTIO_F_EVENT_IDX)).toBe(false);
    expect(v.featureWord(f, 1)).toBe(9);
    expect(v.featureWord(f, 2)).toBe(0);
    expect(v.isSubset(v.features(v.VIRTIO_NET_F_MAC), f)).toBe(true);
    expect(v.isSubset(v.features(v.VIRTIO_F_EVENT_IDX), f)).toBe(false);
    expect(v.withFeature(f, 31, false).lo).toBe(1 << 5);
    expect(v.featureNames(v.features(v.VIRTIO_F_VERSION_1, v.VIRTIO_NET_F_MRG_RXBUF))).toEqual(["MRG_RXBUF", "VERSION_1"]);
  });

  it("pins status bits, the net header and config", () => {
    expect([v.STATUS_ACKNOWLEDGE, v.STATUS_DRIVER, v.STATUS_DRIVER_OK, v.STATUS_FEATURES_OK]).toEqual([1, 2, 4, 8]);
    expect([v.STATUS_DEVICE_NEEDS_RESET, v.STATUS_FAILED]).toEqual([0x40, 0x80]);
    expect([v.NET_HDR_FLAGS, v.NET_HDR_GSO_TYPE, v.NET_HDR_HDR_LEN, v.NET_HDR_GSO_SIZE]).toEqual([0, 1, 2, 4]);
    expect([v.NET_HDR_CSUM_START, v.NET_HDR_CSUM_OFFSET, v.NET_HDR_NUM_BUFFERS, v.NET_HDR_SIZE]).toEqual([6, 8, 10, 12]);
    expect(v.netHdrSize(true, false)).toBe(12);
    expect(v.netHdrSize(false, true)).toBe(12);
    expect(v.netHdrSize(false, false)).toBe(10);
    expect([v.NET_CFG_MAC, v.NET_CFG_STATUS, v.NET_CFG_MAX_VIRTQUEUE_PAIRS, v.NET_CFG_MTU]).toEqual([0, 6, 8, 10]);
    expect([v.rxQueueIndex(0), v.txQueueIndex(0), v.rxQueueIndex(3), v.txQueueIndex(3)]).toEqual([0, 1, 6, 7]);
  });

  it("pins the virtio-pci common configuration layout (§4.1.4.3)", () => {
    expect([v.CC_DEVICE_FEATURE_SELECT, v.CC_DEVICE_FEATURE, v.CC_DRIVER_FEATURE_SELECT, v.CC_DRIVER_FEATURE]).toEqual([0, 4, 8, 12]);
    expect([v.CC_CONFIG_MSIX_VECTOR, v.CC_NUM_QUEUES, v.CC_DEVICE_STATUS, v.CC_CONFIG_GENERATION]).toEqual([0x10, 0x12, 0x14, 0x15]);
    expect([v.CC_QUEUE_SELECT, v.CC_QUEUE_SIZE, v.CC_QUEUE_MSIX_VECTOR, v.CC_QUEUE_ENABLE, v.CC_QUEUE_NOTIFY_OFF]).toEqual([
      0x16, 0x18, 0x1a, 0x1c, 0x1e,
    ]);
    expect([v.CC_QUEUE_DESC_LO, v.CC_QUEUE_DRIVER_LO, v.CC_QUEUE_DEVICE_LO]).toEqual([0x20, 0x28, 0x30]);
    expect(Object.keys(v.COMMON_CFG_WIDTHS)).toHaveLength(21);
  });

  it("keeps the transport region's parts disjoint and word aligned", () => {
    const parts = [v.TRAP_BASE, v.COMMON_CFG_BASE, v.DEVICE_CFG_BASE, v.ISR_BASE, v.NOTIFY_AREA, v.INTERRUPT_WORDS, v.TRANSPORT_STATS];
    for (let i = 1; i < parts.length; i++) expect(parts[i]!).toBeGreaterThan(parts[i - 1]!);
    expect(v.COMMON_CFG_BASE + v.COMMON_CFG_SIZE).toBeLessThanOrEqual(v.DEVICE_CFG_BASE);
    expect(v.TRAP_SEQ).toBeLessThan(v.COMMON_CFG_BASE);
    for (const p of parts) expect(p % 4).toBe(0);
    expect(v.notifyWordOffset(3)).toBe(v.NOTIFY_AREA + 12);
    expect(v.interruptWordOffset(v.TRANSPORT_MAX_QUEUES - 1)).toBeLessThan(v.TRANSPORT_STATS);
  });
});

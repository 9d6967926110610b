/**
 * Packed virtqueue constants (virtio 1.2 §2.8). Declared for completeness;
 * tpdk implements the split ring only (for now).
 */
export const PACKED_DESC_SIZE = 16; // { addr u64, len u32, id u16, flags u16 }
export const PACKED_DESC_ADDR = 0;
export const PACKED_DESC_LEN = 8;
export const PACKED_DESC_ID = 12;
export const PACKED_DESC_FLAGS = 14;
export const VRING_PACKED_DESC_F_AVAIL = 1 << 7;
export const VRING_PACKED_DESC_F_USED = 1 << 15;
/** Event suppression structure: { off_wrap u16, flags u16 }. */
export const PACKED_EVENT_SUPPRESS_SIZE = 4;
export const RING_EVENT_FLAGS_ENABLE = 0;
export const RING_EVENT_FLAGS_DISABLE = 1;
export const RING_EVENT_FLAGS_DESC = 2;

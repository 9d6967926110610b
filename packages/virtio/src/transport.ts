/**
 * The transport: a virtio-pci-style register block in shared memory
 * (virtio 1.2 §4.1.4), one region per device. This file is the map both halves
 * agree on; the device (packages/vhost) implements the registers, the driver
 * (packages/virtio-pmd) accesses them.
 *
 *   region offset   what                               who touches it
 *   0x000           TransportHeader ("capabilities")    written once by the device at create, read by the driver
 *   0x040           trap mailbox                        driver posts, device answers
 *   0x080           common configuration backing        device only (driver goes through traps)
 *   0x0c0           device configuration backing        device only (driver goes through traps)
 *   0x100           ISR status                          device only (driver goes through traps)
 *   0x140           notify area: one u32 per queue      driver increments (a kick), device reads
 *   NOTIFY + 4*MQ   interrupt words: one i32 per queue  device increments + Atomics.notify, driver waits
 *   ...             device statistics (traps, kicks)    device writes, anyone reads
 *
 * ## Register accesses are traps
 * On real hardware a driver's access to the common/device configuration or ISR
 * is an MMIO access that exits to the hypervisor. Here the driver *posts* the
 * access in the trap mailbox and waits; the device thread services it on its
 * next pass and answers. Every trap is counted (TRANSPORT_STAT_TRAPS). The data
 * path uses none: that is the point of virtqueues.
 *
 * Trap protocol (Int32 words at TRAP_* byte offsets, index = (region + off) >> 2):
 *   driver: write TRAP_OP, TRAP_SPACE, TRAP_OFFSET, TRAP_WIDTH, TRAP_VALUE (for writes)
 *           Atomics.store(TRAP_STATE, TRAP_REQUEST)     -- publishes the fields above
 *           Atomics.notify(doorbell)                     -- wake a sleeping device thread
 *           Atomics.wait(TRAP_STATE, TRAP_REQUEST, t) until Atomics.load(TRAP_STATE) === TRAP_DONE
 *             (a device that does not answer within the driver's timeout is dead: ETIMEDOUT)
 *           read TRAP_VALUE (for reads); Atomics.store(TRAP_STATE, TRAP_IDLE)
 *   device: Atomics.load(TRAP_STATE) once per pass; on TRAP_REQUEST perform the access,
 *           write TRAP_VALUE, Atomics.store(TRAP_STATE, TRAP_DONE), Atomics.notify(TRAP_STATE).
 *           A bad space/offset/width is answered with value 0 (reads) or ignored (writes)
 *           and counted in TRANSPORT_STAT_BAD_TRAPS: the driver cannot crash the device.
 *   One trap in flight per device: the driver's control path is single-threaded.
 *
 * ## Kicks (available buffer notifications, §4.1.5.2)
 * The driver kicks queue q by Atomics.add(notify word q, 1) and then
 * Atomics.notify(doorbell) so a sleeping device thread wakes. It is a posted
 * write, not a round trip. The word's value is therefore the number of kicks;
 * the device folds it into TRANSPORT_STAT_KICKS. The notify word of a queue is
 * at NOTIFY_AREA + queue_notify_off * NOTIFY_OFF_MULTIPLIER; the device reports
 * queue_notify_off = queue index.
 *
 * ## Interrupts (used buffer notifications, §4.1.5.4)
 * The device, when the driver's NO_INTERRUPT flag / used_event allow it, sets
 * ISR bit 0, does Atomics.add(interrupt word q, 1) and Atomics.notify on it.
 * A driver in interrupt mode Atomics.wait()s on that word.
 */

export const TRANSPORT_MAGIC = 0x74766972; // "rivt"
export const TRANSPORT_VERSION = 1;
/** At most this many virtqueues per device (16 pairs and a control queue fit). */
export const TRANSPORT_MAX_QUEUES = 64;

// --- TransportHeader (u32 fields, written once by the device at creation) ---
export const HDR_MAGIC = 0x00;
export const HDR_VERSION = 0x04;
export const HDR_DEVICE_ID = 0x08; // virtio device id: 1 = network card
export const HDR_MAX_QUEUES = 0x0c; // number of notify/interrupt words
/** Byte offset (absolute, in EAL memory) of the Int32 word the device thread sleeps on. */
export const HDR_DOORBELL_ADDR = 0x10;
export const HDR_NOTIFY_OFF_MULTIPLIER = 0x14;
/** Heartbeat: the device thread bumps this u32 every pass or every ms; a driver may watch it. */
export const HDR_HEARTBEAT = 0x18;
export const VIRTIO_ID_NET = 1;

// --- Trap mailbox ---
export const TRAP_BASE = 0x40;
export const TRAP_STATE = 0x40; // i32: TRAP_IDLE | TRAP_REQUEST | TRAP_DONE
export const TRAP_OP = 0x44; // TRAP_OP_READ | TRAP_OP_WRITE
export const TRAP_SPACE = 0x48; // SPACE_*
export const TRAP_OFFSET = 0x4c; // byte offset within the space
export const TRAP_WIDTH = 0x50; // 1, 2 or 4 (8-byte registers are accessed as two 4-byte halves, as §4.1.3.1 allows)
export const TRAP_VALUE = 0x54; // u32
export const TRAP_SEQ = 0x58; // u32, incremented by the driver per trap (diagnostics)

export const TRAP_IDLE = 0;
export const TRAP_REQUEST = 1;
export const TRAP_DONE = 2;
export const TRAP_OP_READ = 1;
export const TRAP_OP_WRITE = 2;

export const SPACE_COMMON_CFG = 1;
export const SPACE_DEVICE_CFG = 2;
export const SPACE_ISR = 3;

// --- Backing stores (device-owned) ---
export const COMMON_CFG_BASE = 0x80;
export const DEVICE_CFG_BASE = 0xc0;
export const DEVICE_CFG_MAX = 0x40;
export const ISR_BASE = 0x100;

// --- Notify area and interrupt words ---
export const NOTIFY_AREA = 0x140;
export const NOTIFY_OFF_MULTIPLIER = 4;
export const INTERRUPT_WORDS = NOTIFY_AREA + 4 * TRANSPORT_MAX_QUEUES;

// --- Device statistics (u32 counters, written by the device thread only) ---
export const TRANSPORT_STATS = INTERRUPT_WORDS + 4 * TRANSPORT_MAX_QUEUES;
export const TRANSPORT_STAT_TRAPS = TRANSPORT_STATS + 0x00;
export const TRANSPORT_STAT_BAD_TRAPS = TRANSPORT_STATS + 0x04;
export const TRANSPORT_STAT_KICKS = TRANSPORT_STATS + 0x08;
export const TRANSPORT_STAT_INTERRUPTS = TRANSPORT_STATS + 0x0c;
export const TRANSPORT_STAT_RESETS = TRANSPORT_STATS + 0x10;

export const TRANSPORT_REGION_BYTES = TRANSPORT_STATS + 0x40;

/**
 * struct virtio_pci_common_cfg (§4.1.4.3): offsets within SPACE_COMMON_CFG.
 * Widths are the spec's; a trap's width must match the field's.
 */
export const CC_DEVICE_FEATURE_SELECT = 0x00; // u32 RW
export const CC_DEVICE_FEATURE = 0x04; // u32 RO
export const CC_DRIVER_FEATURE_SELECT = 0x08; // u32 RW
export const CC_DRIVER_FEATURE = 0x0c; // u32 RW
export const CC_CONFIG_MSIX_VECTOR = 0x10; // u16 RW
export const CC_NUM_QUEUES = 0x12; // u16 RO
export const CC_DEVICE_STATUS = 0x14; // u8 RW
export const CC_CONFIG_GENERATION = 0x15; // u8 RO
export const CC_QUEUE_SELECT = 0x16; // u16 RW
export const CC_QUEUE_SIZE = 0x18; // u16 RW (device's maximum on read before enable; driver may lower it)
export const CC_QUEUE_MSIX_VECTOR = 0x1a; // u16 RW
export const CC_QUEUE_ENABLE = 0x1c; // u16 RW
export const CC_QUEUE_NOTIFY_OFF = 0x1e; // u16 RO
export const CC_QUEUE_DESC_LO = 0x20; // u64 RW as two u32
export const CC_QUEUE_DESC_HI = 0x24;
export const CC_QUEUE_DRIVER_LO = 0x28; // u64 RW as two u32
export const CC_QUEUE_DRIVER_HI = 0x2c;
export const CC_QUEUE_DEVICE_LO = 0x30; // u64 RW as two u32
export const CC_QUEUE_DEVICE_HI = 0x34;
export const CC_QUEUE_NOTIF_CONFIG_DATA = 0x38; // u16 RO
export const CC_QUEUE_RESET = 0x3a; // u16 RW
export const COMMON_CFG_SIZE = 0x3c;

/** Width in bytes of each common-config register, by offset (for validating traps). */
export const COMMON_CFG_WIDTHS: Readonly<Record<number, 1 | 2 | 4>> = {
  [CC_DEVICE_FEATURE_SELECT]: 4,
  [CC_DEVICE_FEATURE]: 4,
  [CC_DRIVER_FEATURE_SELECT]: 4,
  [CC_DRIVER_FEATURE]: 4,
  [CC_CONFIG_MSIX_VECTOR]: 2,
  [CC_NUM_QUEUES]: 2,
  [CC_DEVICE_STATUS]: 1,
  [CC_CONFIG_GENERATION]: 1,
  [CC_QUEUE_SELECT]: 2,
  [CC_QUEUE_SIZE]: 2,
  [CC_QUEUE_MSIX_VECTOR]: 2,
  [CC_QUEUE_ENABLE]: 2,
  [CC_QUEUE_NOTIFY_OFF]: 2,
  [CC_QUEUE_DESC_LO]: 4,
  [CC_QUEUE_DESC_HI]: 4,
  [CC_QUEUE_DRIVER_LO]: 4,
  [CC_QUEUE_DRIVER_HI]: 4,
  [CC_QUEUE_DEVICE_LO]: 4,
  [CC_QUEUE_DEVICE_HI]: 4,
  [CC_QUEUE_NOTIF_CONFIG_DATA]: 2,
  [CC_QUEUE_RESET]: 2,
};

/** ISR status bits (§4.1.4.5): reading the ISR clears it. */
export const ISR_QUEUE = 1;
export const ISR_CONFIG = 2;

/** MSI-X "no vector" (we have no MSI-X; interrupts are the per-queue words above). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

export function notifyWordOffset(queueNotifyOff: number): number {
  return NOTIFY_AREA + queueNotifyOff * NOTIFY_OFF_MULTIPLIER;
}
export function interruptWordOffset(queue: number): number {
  return INTERRUPT_WORDS + 4 * queue;
}

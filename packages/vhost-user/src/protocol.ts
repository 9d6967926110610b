/**
 * The vhost-user wire format (QEMU docs/interop/vhost-user.rst, "Message
 * specification"): layouts and numbers only, no behaviour. Both halves of
 * tpdk that speak vhost-user (the front-end under net_virtio_user, the
 * back-end under net_vhost) take their numbers from here.
 *
 *   header (12 bytes, little-endian):  request u32 | flags u32 | size u32
 *   payload (size bytes), file descriptors as SCM_RIGHTS on the same message
 */

export const HEADER_BYTES = 12;
/** The largest payload we send or accept (a full memory table: 8 + 8 * 32). */
export const MAX_PAYLOAD_BYTES = 8 + 8 * 32;

// --- header flags ---
export const FLAG_VERSION_MASK = 0x3;
export const VHOST_USER_VERSION = 0x1;
export const FLAG_REPLY = 0x4;
/** Only with protocol feature REPLY_ACK: the back-end answers with a u64 (0 = success). */
export const FLAG_NEED_REPLY = 0x8;

// --- front-end requests ---
export const GET_FEATURES = 1;
export const SET_FEATURES = 2;
export const SET_OWNER = 3;
export const RESET_OWNER = 4;
export const SET_MEM_TABLE = 5;
export const SET_LOG_BASE = 6;
export const SET_LOG_FD = 7;
export const SET_VRING_NUM = 8;
export const SET_VRING_ADDR = 9;
export const SET_VRING_BASE = 10;
export const GET_VRING_BASE = 11;
export const SET_VRING_KICK = 12;
export const SET_VRING_CALL = 13;
export const SET_VRING_ERR = 14;
export const GET_PROTOCOL_FEATURES = 15;
export const SET_PROTOCOL_FEATURES = 16;
export const GET_QUEUE_NUM = 17;
export const SET_VRING_ENABLE = 18;
export const SEND_RARP = 19;
export const NET_SET_MTU = 20;
export const GET_CONFIG = 24;
export const SET_CONFIG = 25;
export const RESET_DEVICE = 34;
export const GET_MAX_MEM_SLOTS = 36;
export const ADD_MEM_REG = 37;
export const REM_MEM_REG = 38;
export const SET_STATUS = 39;
export const GET_STATUS = 40;

const REQUEST_NAMES: Readonly<Record<number, string>> = {
  [GET_FEATURES]: "GET_FEATURES",
  [SET_FEATURES]: "SET_FEATURES",
  [SET_OWNER]: "SET_OWNER",
  [RESET_OWNER]: "RESET_OWNER",
  [SET_MEM_TABLE]: "SET_MEM_TABLE",
  [SET_LOG_BASE]: "SET_LOG_BASE",
  [SET_LOG_FD]: "SET_LOG_FD",
  [SET_VRING_NUM]: "SET_VRING_NUM",
  [SET_VRING_ADDR]: "SET_VRING_ADDR",
  [SET_VRING_BASE]: "SET_VRING_BASE",
  [GET_VRING_BASE]: "GET_VRING_BASE",
  [SET_VRING_KICK]: "SET_VRING_KICK",
  [SET_VRING_CALL]: "SET_VRING_CALL",
  [SET_VRING_ERR]: "SET_VRING_ERR",
  [GET_PROTOCOL_FEATURES]: "GET_PROTOCOL_FEATURES",
  [SET_PROTOCOL_FEATURES]: "SET_PROTOCOL_FEATURES",
  [GET_QUEUE_NUM]: "GET_QUEUE_NUM",
  [SET_VRING_ENABLE]: "SET_VRING_ENABLE",
  [SEND_RARP]: "SEND_RARP",
  [NET_SET_MTU]: "NET_SET_MTU",
  [GET_CONFIG]: "GET_CONFIG",
  [SET_CONFIG]: "SET_CONFIG",
  [RESET_DEVICE]: "RESET_DEVICE",
  [GET_MAX_MEM_SLOTS]: "GET_MAX_MEM_SLOTS",
  [ADD_MEM_REG]: "ADD_MEM_REG",
  [REM_MEM_REG]: "REM_MEM_REG",
  [SET_STATUS]: "SET_STATUS",
  [GET_STATUS]: "GET_STATUS",
};

export function requestName(request: number): string {
  return REQUEST_NAMES[request] ?? `request ${request}`;
}

/** Virtio feature bit 30: the back-end speaks GET/SET_PROTOCOL_FEATURES (and rings start disabled). */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

// --- protocol feature bits ---
export const PROTOCOL_F_MQ = 0;
export const PROTOCOL_F_LOG_SHMFD = 1;
export const PROTOCOL_F_RARP = 2;
export const PROTOCOL_F_REPLY_ACK = 3;
export const PROTOCOL_F_NET_MTU = 4;
export const PROTOCOL_F_BACKEND_REQ = 5;
export const PROTOCOL_F_CONFIG = 9;
export const PROTOCOL_F_INFLIGHT_SHMFD = 12;
export const PROTOCOL_F_RESET_DEVICE = 13;
export const PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15;
export const PROTOCOL_F_STATUS = 16;

// --- payload layouts (byte offsets) ---
/** u64 payload: features, protocol features, queue num, REPLY_ACK status. */
export const U64_BYTES = 8;
/** struct vhost_vring_state { u32 index; u32 num; } */
export const STATE_INDEX = 0;
export const STATE_NUM = 4;
export const STATE_BYTES = 8;
/** struct vhost_vring_addr: note the order desc, used, avail. */
export const ADDR_INDEX = 0;
export const ADDR_FLAGS = 4;
export const ADDR_DESC = 8;
export const ADDR_USED = 16;
export const ADDR_AVAIL = 24;
export const ADDR_LOG = 32;
export const ADDR_BYTES = 40;
/** SET_VRING_ADDR flags bit 0: log the used ring (we never ask for it). */
export const VRING_F_LOG = 1;
/** SET_VRING_KICK/CALL/ERR u64: bits 0-7 the ring index, bit 8 set = no file descriptor (polling). */
export const VRING_IDX_MASK = 0xff;
export const VRING_NOFD_MASK = 0x100;
/** struct vhost_user_memory { u32 nregions; u32 padding; region[nregions] } */
export const MEM_NREGIONS = 0;
export const MEM_REGIONS = 8;
/** struct vhost_user_memory_region { u64 guest_phys_addr, memory_size, userspace_addr, mmap_offset } */
export const REGION_GUEST_PHYS = 0;
export const REGION_SIZE = 8;
export const REGION_USER_ADDR = 16;
export const REGION_MMAP_OFFSET = 24;
export const REGION_BYTES = 32;
/** At most this many regions in SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_REGIONS = 8;

/** The spec's largest virtqueue (split ring, §2.7): 32768 entries. */
export const MAX_RING_SIZE = 32768;

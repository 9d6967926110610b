import {
  CTRL_HDR_SIZE,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_ALLMULTI,
  VIRTIO_NET_CTRL_RX_PROMISC,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_OK,
} from "@tpdk/virtio";
import { PWALK_BROKEN } from "./packed-virtqueue.js";
import type { PathDevice } from "./path-device.js";
import { S_CTRL_COMMANDS, S_CTRL_ERRORS, S_ERR_AVAIL_IDX, S_ERR_CTRL_CHAIN, S_ERR_HEAD_INDEX } from "./stats.js";
import { type Chain, WALK_FULL } from "./virtqueue.js";

/** The command bytes the device reads: class, command and up to 6 bytes of data (the longest command taken, MAC ADDR_SET, has 6). */
const CMD_BYTES = 8;
/** Gathered command bytes (one control command at a time on the device thread). */
const cmd = new Uint8Array(CMD_BYTES);
/** Result of executing a command whose data length is wrong for it. */
const MALFORMED = -1;

/**
 * The control virtqueue (virtio 1.2 §5.1.6.5), on the device thread. Cold
 * (a handful of commands per device start) but allocation-free like the
 * data path, and it never throws on what the driver wrote.
 *
 * Each chain is `struct virtio_net_ctrl`: device-readable class, command and
 * data (in any number of descriptors), then a device-writable ack byte. The
 * device executes the command, writes VIRTIO_NET_OK or VIRTIO_NET_ERR into
 * the first writable byte and returns the chain with used len 1. A malformed
 * chain (bad descriptors, fewer than 2 readable bytes, no writable byte, data
 * of the wrong size for its command) is counted in errCtrlChain and answered
 * ERR when it has a byte to answer in, else returned with len 0.
 *
 * Commands:
 *   VIRTIO_NET_CTRL_MQ VQ_PAIRS_SET (le16 n, 1..max_virtqueue_pairs; MQ
 *     negotiated): RX is steered over the first n receive queues and TX is
 *     served on the first n transmit queues, effective before the used entry
 *     is published (§5.1.6.5.5).
 *   VIRTIO_NET_CTRL_MAC ADDR_SET (6 bytes; CTRL_MAC_ADDR negotiated): the
 *     default MAC, shown in the config mac until the next reset (§5.1.6.5.2).
 *   VIRTIO_NET_CTRL_RX PROMISC / ALLMULTI (one byte, 0 or 1): recorded and
 *     acknowledged; the device has no receive filter, it delivers every
 *     frame in either mode (filtering is best-effort, §5.1.6.5.1). It accepts
 *     them without VIRTIO_NET_F_CTRL_RX, which it does not offer.
 *   anything else: ERR.
 *
 * Returns the number of chains taken.
 */
export function processCtrl(dev: PathDevice): number {
  if (dev.packed) return processCtrlPacked(dev);
  const q = dev.ctrl!;
  const n = q.pollAvail();
  if (n < 0) {
    dev.needsReset(S_ERR_AVAIL_IDX);
    return 0;
  }
  const c = dev.chain;
  for (let i = 0; i < n; i++) {
    const head = q.nextHead();
    c.n = 0;
    const err = q.walk(head, c);
    if (err === S_ERR_HEAD_INDEX) {
      // No used entry can name a head outside the table: the ring is broken (§2.7).
      dev.needsReset(err);
      return i;
    }
    q.addUsed(head, takeCommand(dev, c, err));
  }
  if (n !== 0 && dev.active && q.publish()) dev.interrupt(q);
  // Keep asking for kicks: the device looks at this queue when kicked (and once per ms).
  q.setNotify(true);
  return n;
}

/**
 * processCtrl on a packed ring (virtio 1.2 §2.8, RING_PACKED negotiated):
 * the same commands and answers, the lists read from the device's position
 * while available (each validated by the packed walk: consecutive
 * descriptors, AVAIL/USED bits under the wrap counter, addresses, indirect)
 * and returned with one used descriptor each (§2.8.6: the buffer id of the
 * list's last descriptor, skipping its descriptors). A list that cannot be
 * followed (PWALK_BROKEN: a descriptor in it not available, or longer than
 * the ring) needs a reset, as a bad head index does on a split ring.
 */
function processCtrlPacked(dev: PathDevice): number {
  const q = dev.pctrl!;
  const c = dev.chain;
  let n = 0;
  // At most one ring's worth per call: a driver that keeps posting cannot hold the device thread here.
  while (n < q.size && q.isAvail()) {
    c.n = 0;
    const err = q.walk(c);
    if (err === PWALK_BROKEN) {
      dev.needsReset(S_ERR_CTRL_CHAIN);
      break;
    }
    const len = takeCommand(dev, c, err);
    const descs = q.chainDescs;
    q.take(descs);
    q.addUsed(q.chainId, len, descs);
    n++;
  }
  if (n !== 0 && dev.active && q.publish()) dev.interrupt(q.regs);
  q.setNotify(true);
  return n;
}

/**
 * One command taken, whichever ring it came from: `err` is its walk's result.
 * A chain the walk refused is counted and returned with len 0 (nothing in it
 * was validated, not even the ack byte is written); a walked one is
 * executed and answered. Returns the used len.
 */
function takeCommand(dev: PathDevice, c: Chain, err: number): number {
  dev.count(S_CTRL_COMMANDS);
  if (err === 0) return answer(dev, c);
  if (err !== WALK_FULL) dev.count(err);
  dev.count(S_ERR_CTRL_CHAIN);
  dev.count(S_CTRL_ERRORS);
  return 0;
}

/** Execute the walked command in `c` and write its ack; returns the used len (1, or 0 without an ack byte). */
function answer(dev: PathDevice, c: Chain): number {
  const ack = ackAddress(c);
  const rb = c.readBytes;
  if (rb < CTRL_HDR_SIZE || ack < 0) {
    dev.count(S_ERR_CTRL_CHAIN);
    dev.count(S_CTRL_ERRORS);
    if (ack < 0) return 0;
    dev.u8[ack] = VIRTIO_NET_ERR;
    return 1;
  }
  gather(dev.u8, c, rb < CMD_BYTES ? rb : CMD_BYTES);
  let r = execute(dev, cmd[0]!, cmd[1]!, rb - CTRL_HDR_SIZE);
  if (r === MALFORMED) {
    dev.count(S_ERR_CTRL_CHAIN);
    r = VIRTIO_NET_ERR;
  }
  if (r !== VIRTIO_NET_OK) dev.count(S_CTRL_ERRORS);
  dev.u8[ack] = r;
  return 1;
}

/** VIRTIO_NET_OK, VIRTIO_NET_ERR, or MALFORMED (data of the wrong size). Data bytes are cmd[2..]. */
function execute(dev: PathDevice, cls: number, command: number, dataLen: number): number {
  if (cls === VIRTIO_NET_CTRL_MQ && command === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
    if (dataLen !== 2) return MALFORMED;
    if (!dev.hasDriverFeature(VIRTIO_NET_F_MQ)) return VIRTIO_NET_ERR;
    const pairs = cmd[2]! | (cmd[3]! << 8);
    if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > dev.cfg.queuePairs) return VIRTIO_NET_ERR;
    dev.setQueuePairs(pairs);
    return VIRTIO_NET_OK;
  }
  if (cls === VIRTIO_NET_CTRL_MAC && command === VIRTIO_NET_CTRL_MAC_ADDR_SET) {
    if (dataLen !== 6) return MALFORMED;
    if (!dev.hasDriverFeature(VIRTIO_NET_F_CTRL_MAC_ADDR)) return VIRTIO_NET_ERR;
    dev.setMac(cmd, CTRL_HDR_SIZE);
    return VIRTIO_NET_OK;
  }
  if (cls === VIRTIO_NET_CTRL_RX && (command === VIRTIO_NET_CTRL_RX_PROMISC || command === VIRTIO_NET_CTRL_RX_ALLMULTI)) {
    if (dataLen !== 1) return MALFORMED;
    const on = cmd[2]!;
    if (on > 1) return VIRTIO_NET_ERR;
    if (command === VIRTIO_NET_CTRL_RX_PROMISC) dev.steering.setPromisc(on === 1);
    else dev.steering.setAllmulti(on === 1);
    return VIRTIO_NET_OK;
  }
  return VIRTIO_NET_ERR;
}

/** Address of the first device-writable byte of the chain, or -1 when it has none. */
function ackAddress(c: Chain): number {
  for (let s = c.nRead; s < c.n; s++) if (c.len[s]! !== 0) return c.addr[s]!;
  return -1;
}

/** Copy the first `n` readable bytes of the chain (they may straddle descriptors) into `cmd`. */
function gather(u8: Uint8Array, c: Chain, n: number): void {
  let got = 0;
  for (let s = 0; s < c.nRead && got < n; s++) {
    const a = c.addr[s]!;
    const l = c.len[s]!;
    for (let k = 0; k < l && got < n; k++) cmd[got++] = u8[a + k]!;
  }
}

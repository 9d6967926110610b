import type { Memory } from "@tpdk/eal";
import {
  type Features,
  HDR_DOORBELL_ADDR,
  SPACE_DEVICE_CFG,
  SPACE_ISR,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  TRAP_OP_READ,
  TRAP_OP_WRITE,
  TRAP_REQUEST,
  TRAP_STATE,
  trapAnswered,
  trapPost,
  trapTake,
  enableQueue,
  notifyWordOffset,
  programQueue,
  readCommon,
  readDeviceFeatures,
  readDeviceStatus,
  writeCommon,
  writeDeviceStatus,
  writeDriverFeatures,
} from "@tpdk/virtio";
import type { DriverRing } from "./driver-ring.js";

/**
 * The driver's side of the trap protocol (transport.ts), for device tests:
 * the mailbox is @tpdk/virtio's trap.ts and the registers its driver side of
 * the common configuration (common-cfg-driver.ts), as for virtio-pmd; only
 * the waiting is this client's. With `pump` (in-thread tests) each access
 * steps the device loop until the trap is answered; without it
 * (cross-thread tests) it waits on TRAP_STATE.
 */
export class TrapClient {
  private readonly mem: Memory;
  private readonly t: number;
  private readonly pump: (() => void) | undefined;
  private readonly timeoutMs: number;

  constructor(mem: Memory, transportOffset: number, pump?: () => void, timeoutMs = 5000) {
    this.mem = mem;
    this.t = transportOffset;
    this.pump = pump;
    this.timeoutMs = timeoutMs;
  }

  read(space: number, offset: number, width: number): number {
    return this.access(TRAP_OP_READ, space, offset, width, 0);
  }

  write(space: number, offset: number, width: number, value: number): void {
    this.access(TRAP_OP_WRITE, space, offset, width, value);
  }

  readCommon(off: number): number {
    return readCommon(this, off);
  }

  writeCommon(off: number, v: number): void {
    writeCommon(this, off, v);
  }

  readDeviceCfg(off: number, width: number): number {
    return this.read(SPACE_DEVICE_CFG, off, width);
  }

  readIsr(): number {
    return this.read(SPACE_ISR, 0, 1);
  }

  status(): number {
    return readDeviceStatus(this);
  }

  setStatus(v: number): void {
    writeDeviceStatus(this, v);
  }

  deviceFeatures(): Features {
    return readDeviceFeatures(this);
  }

  writeDriverFeatures(f: Features): void {
    writeDriverFeatures(this, f);
  }

  /** Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true when the device kept FEATURES_OK. */
  negotiate(f: Features): boolean {
    this.setStatus(0);
    this.setStatus(STATUS_ACKNOWLEDGE);
    this.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.writeDriverFeatures(f);
    this.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    return (this.status() & STATUS_FEATURES_OK) !== 0;
  }

  /** Program queue q with the ring's size and addresses and enable it. */
  setupQueue(q: number, ring: DriverRing): void {
    programQueue(this, q, ring.size, ring.desc, ring.avail, ring.used);
    enableQueue(this);
  }

  driverOk(): void {
    this.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  /** Kick queue q: bump its notify word and wake the device thread. */
  kick(q: number): void {
    Atomics.add(this.mem.u32, (this.t + notifyWordOffset(q)) >>> 2, 1);
    this.ringDoorbell();
  }

  private ringDoorbell(): void {
    const bell = this.mem.u32[(this.t + HDR_DOORBELL_ADDR) >>> 2]!;
    Atomics.notify(this.mem.i32, bell >>> 2);
  }

  private access(op: number, space: number, offset: number, width: number, value: number): number {
    const { i32, u32 } = this.mem;
    const t = this.t;
    trapPost(i32, u32, t, op, space, offset, width, value);
    this.ringDoorbell();
    if (this.pump) {
      for (let i = 0; i < 1000 && !trapAnswered(i32, t); i++) this.pump();
    } else {
      const st = (t + TRAP_STATE) >>> 2;
      const deadline = Date.now() + this.timeoutMs;
      while (!trapAnswered(i32, t) && Date.now() < deadline) Atomics.wait(i32, st, TRAP_REQUEST, 10);
    }
    if (!trapAnswered(i32, t)) throw new Error(`trap ${op}/${space}/${offset} not answered`);
    return trapTake(i32, u32, t);
  }
}

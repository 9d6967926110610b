import { describe, expect, it } from "vitest";
import * as v from "./index.js";

/**
 * The driver side of the common configuration against the device side
 * (common-cfg.ts): a minimal device model answering through readCommonCfg /
 * writeCommonCfg and refusing any access at the wrong width, as every device
 * model does. Every access the driver helpers make is logged.
 */
class Model implements v.CommonCfgDevice {
  readonly features = new v.FeatureRegs({ lo: 0x1234_5678, hi: 0x9 });
  readonly configMsix = v.VIRTIO_MSI_NO_VECTOR;
  readonly numQueues = 3;
  status = 0;
  readonly generation = 0;
  queueSelect = 0;
  readonly queues = [0, 1, 2].map((i) => new v.QueueRegs(i, 256));
  readonly log: string[] = [];
  badWidths = 0;

  selectedQueue(): v.QueueRegs | undefined {
    return this.queues[this.queueSelect];
  }
  writeDriverFeature(x: number): void {
    this.features.writeDriver(x);
  }
  setConfigMsix(): void {}
  writeStatus(x: number): void {
    this.status = x;
  }
  selectQueue(x: number): void {
    this.queueSelect = x;
  }
  writeQueue(q: v.QueueRegs, off: number, x: number): boolean {
    if (off === v.CC_QUEUE_ENABLE) {
      q.enabled = x === 1;
      return true;
    }
    return v.storeQueueRegister(q, off, x);
  }
  read(space: number, off: number, width: 1 | 2 | 4): number {
    this.log.push(`r ${off} ${width}`);
    if (space !== v.SPACE_COMMON_CFG || !v.commonCfgAccessOk(off, width)) {
      this.badWidths++;
      return 0;
    }
    return v.readCommonCfg(this, off);
  }
  write(space: number, off: number, width: 1 | 2 | 4, value: number): void {
    this.log.push(`w ${off} ${width} ${value}`);
    if (space !== v.SPACE_COMMON_CFG || !v.commonCfgAccessOk(off, width)) this.badWidths++;
    else v.writeCommonCfg(this, off, value);
  }
}

describe("driver side of the common configuration (§4.1.4.3)", () => {
  it("reaches every register at its own width; features in two selected halves; a queue's three areas, then enable", () => {
    const m = new Model();
    expect(v.readDeviceFeatures(m)).toEqual({ lo: 0x1234_5678, hi: 0x9 });
    v.writeDriverFeatures(m, { lo: 0x5678, hi: 0x1 });
    expect(m.features.driver()).toEqual({ lo: 0x5678, hi: 0x1 });
    v.writeDeviceStatus(m, v.STATUS_ACKNOWLEDGE);
    expect(v.readDeviceStatus(m)).toBe(v.STATUS_ACKNOWLEDGE);
    expect(v.readQueueSize(m, 2)).toBe(256);
    v.programQueue(m, 1, 128, 0x1000, 0x2000, 0x3000);
    expect(m.queues[1]).toMatchObject({ size: 128, descLo: 0x1000, driverLo: 0x2000, deviceLo: 0x3000, enabled: false });
    expect(v.readCommon(m, v.CC_QUEUE_NOTIFY_OFF)).toBe(1); // still selected
    v.enableQueue(m);
    expect(m.queues[1]!.enabled).toBe(true);
    expect(m.badWidths).toBe(0);
    expect(m.log.slice(-10)).toEqual([
      `w ${v.CC_QUEUE_SELECT} 2 1`, `w ${v.CC_QUEUE_SIZE} 2 128`, `w ${v.CC_QUEUE_DESC_LO} 4 4096`, `w ${v.CC_QUEUE_DESC_HI} 4 0`,
      `w ${v.CC_QUEUE_DRIVER_LO} 4 8192`, `w ${v.CC_QUEUE_DRIVER_HI} 4 0`, `w ${v.CC_QUEUE_DEVICE_LO} 4 12288`,
      `w ${v.CC_QUEUE_DEVICE_HI} 4 0`, `r ${v.CC_QUEUE_NOTIFY_OFF} 2`, `w ${v.CC_QUEUE_ENABLE} 2 1`,
    ]);
  });

  it("names no register where none starts", () => {
    const m = new Model();
    expect(() => v.readCommon(m, v.CC_DEVICE_FEATURE + 1)).toThrow(RangeError);
    expect(m.log).toEqual([]);
  });
});

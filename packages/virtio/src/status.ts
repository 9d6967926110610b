/** Device status field bits (virtio 1.2 §2.1). Written by the driver, 0 resets the device. */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

export function statusNames(s: number): string {
  const parts: string[] = [];
  if (s & STATUS_ACKNOWLEDGE) parts.push("ACKNOWLEDGE");
  if (s & STATUS_DRIVER) parts.push("DRIVER");
  if (s & STATUS_FEATURES_OK) parts.push("FEATURES_OK");
  if (s & STATUS_DRIVER_OK) parts.push("DRIVER_OK");
  if (s & STATUS_DEVICE_NEEDS_RESET) parts.push("DEVICE_NEEDS_RESET");
  if (s & STATUS_FAILED) parts.push("FAILED");
  return parts.length ? parts.join("|") : "RESET";
}

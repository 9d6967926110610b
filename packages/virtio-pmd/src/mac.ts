/** MAC address helpers (cold path). */

/** "02:70:64:6B:00:05" from 6 bytes: upper-case hex, as DPDK prints (RTE_ETHER_ADDR_PRT_FMT, "%02X:..."). */
export function formatMac(mac: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(((mac[i] ?? 0) & 0xff).toString(16).toUpperCase().padStart(2, "0"));
  return parts.join(":");
}

/**
 * The MAC a port gets when neither `mac=` nor the device supplies one:
 * locally administered (bit 1 of byte 0), unicast, "pdk" in the middle and
 * the port id at the end, so runs are reproducible: 02:70:64:6b:00:<id>.
 */
export function defaultMac(portId: number): Uint8Array {
  return Uint8Array.of(0x02, 0x70, 0x64, 0x6b, (portId >>> 8) & 0xff, portId & 0xff);
}

export function isZeroMac(mac: ArrayLike<number>): boolean {
  for (let i = 0; i < 6; i++) if ((mac[i] ?? 0) !== 0) return false;
  return true;
}

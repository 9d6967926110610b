// Varied Ethernet frames for replay tests: IPv4/UDP, VLAN-tagged IPv4, ARP,
// IPv6/UDP, multicast and broadcast destinations, 60..1514 bytes, from a
// seeded generator so a failure replays. Each frame's index is in its
// payload, so a lost, duplicated or reordered frame cannot pass a comparison.

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FRAME_KINDS = ["ipv4", "vlan", "arp", "ipv6", "multicast", "broadcast"] as const;

/** `n` frames of the kinds above in a seeded mix, lengths 60..1514 (ARP: 60). */
export function makeVariedFrames(n: number, seed: number): Uint8Array[] {
  const r = rng(seed);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const kind = FRAME_KINDS[Math.floor(r() * FRAME_KINDS.length)]!;
    // Every 97th frame is 60 or 1514 bytes, so both limits occur.
    const len = kind === "arp" ? 60 : i % 97 === 0 ? (i % 194 === 0 ? 60 : 1514) : 60 + Math.floor(r() * 1455);
    const f = new Uint8Array(len);
    for (let j = 0; j < len; j++) f[j] = Math.floor(r() * 256);
    // Destination: unicast (locally administered), IPv4 or IPv6 multicast, broadcast.
    if (kind === "multicast") f.set(i & 1 ? [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03] : [0x33, 0x33, 0, 0, 0, 0x01], 0);
    else if (kind === "broadcast" || kind === "arp") f.fill(0xff, 0, 6);
    else f.set([0x02, 0xaa, 0, 0, i >>> 8, i & 0xff], 0);
    f.set([0x02, 0xbb, 0, 0, i >>> 8, i & 0xff], 6);
    let o = 12;
    if (kind === "vlan") {
      f.set([0x81, 0x00, (i >>> 8) & 0x0f, i & 0xff], 12);
      o = 16;
    }
    if (kind === "arp") {
      f.set([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1], o); // request
    } else if (kind === "ipv6" || (kind === "multicast" && !(i & 1))) {
      f.set([0x86, 0xdd, 0x60, 0, 0, 0], o);
      const pl = len - o - 2 - 40;
      f.set([pl >>> 8, pl & 0xff, 17, 64], o + 6);
    } else {
      f.set([0x08, 0x00, 0x45, 0], o);
      const tl = len - o - 2;
      f.set([tl >>> 8, tl & 0xff], o + 4);
      f[o + 11] = 17; // UDP
    }
    // The frame's index, at the end where no header field lies.
    f[len - 2] = i >>> 8;
    f[len - 1] = i & 0xff;
    frames.push(f);
  }
  return frames;
}

// l2fwd end to end, pcap in and pcap out: each port replays its own input file
// and writes what it transmits; the expected output of every port is computed
// here from the inputs (pairing, MAC rewrite), independently of the app.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeFrames, portMac, readPcap, rewritten, runL2fwd, tempDir, writePcap } from "@tpdk/testing/e2e";

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

interface Case {
  name: string;
  nbPorts: number;
  frames: number;
  eal: string[];
  app: string[];
  /** dst[p]: where frames received on p go. */
  dst: number[];
  macUpdating: boolean;
  /** mac= per port (the device's MAC: l2fwd prints it and rewrites with it). */
  macs?: string[];
}

const cases: Case[] = [
  { name: "2 ports, 1 lcore, MAC updating, port 0 with mac=", nbPorts: 2, frames: 3000, eal: ["-l", "0"], app: ["-q", "2"], dst: [1, 0], macUpdating: true, macs: ["02:00:00:00:0a:01"] },
  { name: "2 ports, --no-mac-updating", nbPorts: 2, frames: 2000, eal: ["-l", "0"], app: ["-q", "2", "--no-mac-updating"], dst: [1, 0], macUpdating: false },
  {
    name: "4 ports on 2 lcores, --portmap, burst 8",
    nbPorts: 4,
    frames: 1500,
    eal: ["-l", "0-1"],
    app: ["-q", "2", "--portmap=(0,3)(1,2)", "--burst", "8"],
    dst: [3, 2, 1, 0],
    macUpdating: true,
  },
  { name: "3 ports: the odd one forwards to itself, burst 1", nbPorts: 3, frames: 800, eal: ["-l", "0"], app: ["-q", "3", "--burst", "1"], dst: [1, 0, 2], macUpdating: true },
];

describe("l2fwd pcap in, pcap out", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const t = tempDir();
      cleanup = t.cleanup;
      const inputs = Array.from({ length: c.nbPorts }, (_, p) => makeFrames(p, c.frames + p * 7));
      const vdevs: string[] = [];
      // Default queue sizes: the file sources are held to what the TX rings give
      // back (packages/vhost/src/device/demand.ts), so the output is exact however the
      // threads are scheduled (test/l2fwd-replay.test.ts covers every TX path and size).
      for (let p = 0; p < c.nbPorts; p++) {
        writePcap(join(t.dir, `in${p}.pcap`), inputs[p]!);
        const mac = c.macs?.[p] ? `,mac=${c.macs[p]}` : "";
        vdevs.push("--vdev", `virtio${p},wire=pcap,rx_pcap=${join(t.dir, `in${p}.pcap`)},tx_pcap=${join(t.dir, `out${p}.pcap`)}${mac}`);
      }
      const mask = `0x${((1 << c.nbPorts) - 1).toString(16)}`;
      const r = await runL2fwd([...c.eal, ...vdevs, "--", "-p", mask, "-T", "0", "--json", ...c.app]);
      expect(r.stderr.replace(/.*warning.*\n/g, "")).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Bye...");
      for (const [p, mac] of (c.macs ?? []).entries()) expect(portMac(r.stdout, p)).toEqual(mac.split(":").map((h) => parseInt(h, 16)));

      for (let out = 0; out < c.nbPorts; out++) {
        const sources = c.dst.flatMap((d, src) => (d === out ? [src] : []));
        expect(sources).toHaveLength(1);
        const src = sources[0]!;
        const mac = portMac(r.stdout, out);
        const expected = inputs[src]!.map((f) => (c.macUpdating ? rewritten(f, out, mac) : f));
        const got = readPcap(join(t.dir, `out${out}.pcap`));
        expect(got.length).toBe(expected.length);
        for (let i = 0; i < expected.length; i++) {
          if (Buffer.compare(got[i]!, expected[i]!) !== 0) throw new Error(`port ${out} frame ${i} differs from input ${src} frame ${i}`);
        }
      }
    });
  }
});

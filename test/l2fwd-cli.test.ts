// Every bad input gets one line naming the problem and the fix, exit code 2,
// no stack trace, and nothing half-started (no "Initializing port" printed).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runL2fwd, tempDir } from "@tpdk/testing/e2e";

const t = tempDir();
afterAll(() => t.cleanup());
const bad = join(t.dir, "bad.pcap");
writeFileSync(bad, Buffer.from("this is not a pcap file at all, just text"));
const trunc = join(t.dir, "trunc.pcap");
{
  const b = Buffer.alloc(24 + 16 + 10);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(65535, 16);
  b.writeUInt32LE(1, 20);
  b.writeUInt32LE(60, 24 + 8);
  b.writeUInt32LE(60, 24 + 12);
  writeFileSync(trunc, b);
}

const GEN = ["--vdev", "virtio0,wire=gen", "--vdev", "virtio1,wire=sink"];
const cases: Array<[string, string[], RegExp]> = [
  ["portmask not hex", ["-l", "0", ...GEN, "--", "-p", "zz"], /-p: "zz" is not a hexadecimal portmask/],
  ["portmask names a missing port", ["-l", "0", ...GEN, "--", "-p", "0x7", "-q", "3"], /names port 2, but only 2 port\(s\) exist/],
  ["no portmask", ["-l", "0", ...GEN, "--", "-q", "2"], /-p PORTMASK is required/],
  ["malformed vdev", ["-l", "0", "--vdev", "virtio0,,", "--", "-p", "0x1"], /virtio0/],
  ["unknown key", ["-l", "0", "--vdev", "virtio0,wire=gen,sizee=64", "--", "-p", "0x1"], /unknown key 'sizee'/],
  ["unknown wire", ["-l", "0", "--vdev", "virtio0,wire=ether", "--", "-p", "0x1"], /wire=ether is not a wire/],
  ["unknown driver", ["-l", "0", "--vdev", "e1000_0,wire=gen", "--", "-p", "0x1"], /e1000|driver/],
  ["missing pcap", ["-l", "0", "--vdev", `virtio0,wire=pcap,rx_pcap=${join(t.dir, "nope.pcap")}`, "--", "-p", "0x1"], /nope\.pcap/],
  ["malformed pcap", ["-l", "0", "--vdev", `virtio0,wire=pcap,rx_pcap=${bad}`, "--", "-p", "0x1"], /bad\.pcap/],
  ["truncated pcap", ["-l", "0", "--vdev", `virtio0,wire=pcap,rx_pcap=${trunc}`, "--", "-p", "0x1"], /trunc\.pcap/],
  ["unwritable output", ["-l", "0", "--vdev", "virtio0,wire=pcap,tx_pcap=/nonexistent-dir/out.pcap", "--", "-p", "0x1"], /\/nonexistent-dir\/out\.pcap/],
  ["bad core list", ["-l", "0-x", ...GEN, "--", "-p", "0x3"], /-l: "0-x" is not a core list/],
  ["burst out of range", ["-l", "0", ...GEN, "--", "-p", "0x3", "-q", "2", "--burst", "0"], /--burst: 0 is out of range/],
  ["period out of range", ["-l", "0", ...GEN, "--", "-p", "0x3", "-q", "2", "-T", "100000"], /-T: 100000 is out of range/],
  ["bad frame size", ["-l", "0", "--vdev", "virtio0,wire=gen,size=abc", "--", "-p", "0x1"], /size=abc/],
  ["bad queue size", ["-l", "0", "--vdev", "virtio0,wire=gen,queue_size=1000", "--", "-p", "0x1"], /queue_size=1000/],
];

describe("l2fwd rejects bad input", () => {
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const r = await runL2fwd(args, 30_000);
      const lines = r.stderr.trim().split("\n");
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^l2fwd: /);
      expect(lines[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain("Initializing port");
    });
  }
});

describe("l2fwd --help", () => {
  // Before the "--" (EAL), after it (l2fwd), through pnpm's extra "--", alone or with other options.
  const asked: string[][] = [["--help"], ["-h"], ["--", "--help"], ["--", "--", "-h"], ["-l", "0", ...GEN, "--", "-p", "0x3", "--help"]];
  for (const args of asked) {
    it(`l2fwd ${args.join(" ")}: usage on stdout, exit 0, nothing started`, async () => {
      const r = await runL2fwd(args, 30_000);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^usage: l2fwd \[EAL options\] -- -p PORTMASK/);
      // EAL options, l2fwd options with their defaults, the --vdev kinds and wires.
      for (const want of [/-l CORELIST .*\(default 0/, /-m MB .*\(default 256/, /--busy-poll/, /-p PORTMASK .*required/, /-q NQ .*\(default 1\)/, /-T PERIOD .*\(default 10\)/, /--burst N .*\(default 32\)/, /--vdev virtioN,wire=KIND/, /wire=gen /, /wire=sink /, /wire=pcap /, /wire=loop /, /wire=udp /]) {
        expect(r.stdout).toMatch(want);
      }
      expect(r.stdout).not.toContain("Initializing port");
    });
  }
});

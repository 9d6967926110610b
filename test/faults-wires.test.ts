// Faults at the wires. A wire that cannot write its output (tx_pcap on a full
// disk: /dev/full) counts every frame it failed to write; l2fwd reports them
// (wire_write_errors, a warning) and carries on: no crash, packets conserved.
// A pcap input that turns out corrupt in the middle is refused before
// anything starts, with the record's index in the message.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lastJson, makeFrames, runL2fwd, tempDir, writePcap } from "@tpdk/testing/e2e";

const t = tempDir();
afterAll(() => t.cleanup());

describe("a wire that fails to write", () => {
  it.skipIf(!existsSync("/dev/full"))("tx_pcap=/dev/full: every frame counted in wire_write_errors, reported, exit 0, conserved", async () => {
    const count = 5000;
    const r = await runL2fwd([
      "-l", "0",
      "--vdev", `virtio0,wire=gen,count=${count},size=64:512:1518`,
      "--vdev", "virtio1,wire=pcap,tx_pcap=/dev/full",
      "--", "-p", "0x3", "-q", "2", "-T", "0", "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [p0, p1] = lastJson(r.stdout).ports as [Record<string, number>, Record<string, number>];
    expect(p0.rx).toBe(count);
    expect(p0.rx).toBe(p1.tx! + p1.dropped!);
    // sent = delivered + wire write errors; nothing could be written.
    expect(p1.tx).toBe(p1.wire_delivered! + p1.wire_write_errors!);
    expect(p1.wire_delivered).toBe(0);
    expect(p1.wire_write_errors).toBeGreaterThan(0);
    expect(p0.wire_write_errors).toBe(0);
    expect(r.stderr).toContain(`l2fwd: warning: port 1: its wire failed to write ${p1.wire_write_errors} frame(s) (last error: ENOSPC)`);
    expect(r.stdout).toContain("Bye...");
  });

  it.skipIf(!existsSync("/dev/full"))("the table shows the fault lines only where they happened", async () => {
    const r = await runL2fwd([
      "-l", "0",
      "--vdev", "virtio0,wire=gen,count=1000",
      "--vdev", "virtio1,wire=pcap,tx_pcap=/dev/full",
      "--", "-p", "0x3", "-q", "2", "-T", "0",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const port1 = r.stdout.split("Statistics for port 1")[1]!.split("Aggregate")[0]!;
    expect(port1).toMatch(/Wire write errors: +1000\n/);
    const port0 = r.stdout.split("Statistics for port 0")[1]!.split("Statistics for port 1")[0]!;
    expect(port0).not.toMatch(/Wire write errors/);
  });
});

/** A classic pcap (writePcap's) whose record `bad` (1-based) then gets a broken header. */
function corruptPcap(path: string, frames: Uint8Array[], bad: number, how: "snaplen" | "orig" | "usec"): void {
  writePcap(path, frames);
  const b = readFileSync(path);
  b.writeUInt32LE(2048, 16); // snaplen: well below what the "snaplen" case claims
  const o = 24 + frames.slice(0, bad - 1).reduce((s, f) => s + 16 + f.length, 0); // record `bad`'s header
  const f = frames[bad - 1]!;
  if (how === "snaplen") b.writeUInt32LE(100_000, o + 8);
  else if (how === "orig") b.writeUInt32LE(f.length - 1, o + 12);
  else b.writeUInt32LE(2_000_000, o + 4);
  writeFileSync(path, b);
}

describe("a pcap corrupt halfway", () => {
  const cases = [
    ["captured length beyond the snaplen", "snaplen", /record 5 at byte \d+ claims 100000 captured bytes, more than the snaplen 2048/],
    ["original length below the captured length", "orig", /record 5 at byte \d+ has original length \d+ < captured \d+/],
    ["microseconds out of range", "usec", /record 5 at byte \d+ has microseconds 2000000 out of range/],
  ] as const;
  for (const [name, how, message] of cases) {
    it(`${name}: refused before anything starts, naming the record (exit 2)`, async () => {
      const path = join(t.dir, `corrupt-${how}.pcap`);
      corruptPcap(path, makeFrames(0, 10), 5, how);
      const out = join(t.dir, `out-${how}.pcap`);
      const r = await runL2fwd([
        "-l", "0",
        "--vdev", `virtio0,wire=pcap,rx_pcap=${path}`,
        "--vdev", `virtio1,wire=pcap,tx_pcap=${out}`,
        "--", "-p", "0x3", "-q", "2", "-T", "0",
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(path);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).not.toContain("Initializing port");
    });
  }
});

import { describe, expect, it } from "vitest";
import { RxSampler, windowRate } from "./samples.js";

/** One periodic block as DPDK 22.11's testpmd prints it with --stats-period (ESC sequences included). */
const block = (rx: number, tx: number): string =>
  "\x1b[2J\x1b[1;1H\nPort statistics ====================================\n" +
  "  ######################## NIC statistics for port 0  ########################\n" +
  `  RX-packets: ${rx}          RX-missed: 0          RX-bytes:  ${rx * 60}\n` +
  "  RX-errors: 0\n  RX-nombuf:  0         \n" +
  `  TX-packets: ${tx}          TX-errors: 0          TX-bytes:  ${tx * 60}\n\n` +
  "  Throughput (since last show)\n  Rx-pps:       274098          Rx-bps:    122796064\n" +
  "  ############################################################################\n";

const finalStats =
  "  ---------------------- Forward statistics for port 0  ----------------------\n" +
  "  RX-packets: 1602528        RX-dropped: 0             RX-total: 1602528\n" +
  "  TX-packets: 1611904        TX-dropped: 179848448     TX-total: 181460352\n";

describe("RxSampler", () => {
  it("keeps one sample per periodic block, whatever the chunking, and not the final forward statistics", () => {
    const text = block(0, 0) + block(1000, 1100) + block(3000, 3100) + finalStats;
    for (const size of [1, 7, 64, text.length]) {
      const s = new RxSampler();
      for (let i = 0, t = 0; i < text.length; i += size, t++) s.push(text.slice(i, i + size), t);
      expect(s.samples.map((x) => x.rx)).toEqual([0, 1000, 3000]);
      expect(s.flowing).toBe(true);
    }
  });

  it("is not flowing before a sample counts a frame", () => {
    const s = new RxSampler();
    expect(s.flowing).toBe(false);
    s.push(block(0, 500), 0);
    expect(s.flowing).toBe(false);
    s.push("  RX-packets: 12", 1); // a line cut short: no sample yet
    expect(s.samples.length).toBe(1);
    s.push("          RX-missed: 0\n", 2);
    expect(s.samples[1]).toEqual({ t: 2, rx: 12 });
    expect(s.flowing).toBe(true);
  });

  it("is flowing since a sample only when the count moves past the one before it (a back-end faced in turn)", () => {
    const s = new RxSampler();
    s.push(block(0, 0) + block(5000, 0), 0); // the first front-end's frames
    s.push(block(5000, 0), 1); // it stopped: the count stands
    const from = s.samples.length; // the next front-end starts here
    expect(s.flowingSince(from)).toBe(false); // no sample yet
    s.push(block(5000, 0), 2);
    expect(s.flowingSince(from)).toBe(false); // a sample, the same count
    s.push(block(5200, 0), 3);
    expect(s.flowingSince(from)).toBe(true);
    expect(s.flowingSince(0)).toBe(s.flowing);
  });
});

describe("windowRate", () => {
  it("rates from the sample at `from` to the last, and per second in between", () => {
    const samples = [
      { t: 0, rx: 0 },
      { t: 1000, rx: 1e6 },
      { t: 2000, rx: 3e6 },
      { t: 4000, rx: 7e6 },
    ];
    const w = windowRate(samples, 1)!;
    expect(w.windowS).toBe(3);
    expect(w.pps).toBe(2e6);
    expect(w.perSecond).toEqual([2, 2]);
  });

  it("null when the window is under half a second or there is no sample", () => {
    expect(windowRate([], 0)).toBeNull();
    expect(windowRate([{ t: 0, rx: 0 }, { t: 400, rx: 10 }], 0)).toBeNull();
    expect(windowRate([{ t: 0, rx: 0 }], 0)).toBeNull();
  });
});

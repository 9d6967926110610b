// checkDrift against a model of the layers: every counter equal at each instant, the whole
// system moving on between any two reads (the reading thread paused). A pause must never look
// like drift; a layer that really runs ahead or falls behind must.
import { describe, expect, it } from "vitest";
import { checkDrift } from "./drift.js";
import type { InprocL2fwd } from "./inproc-l2fwd.js";

interface Skew {
  /** Added to the device's RX count (frames the wire never generated). */
  deviceRxAhead?: number;
  /** Subtracted from the driver's ipackets (frames the device handed on that the driver never counted). */
  driverBehind?: number;
}

/** Port 0 forwarding to itself; `pause` frames flow through every layer before each read. */
function model(pause: number, skew: Skew = {}): InprocL2fwd {
  let t = 0;
  const tick = (): number => (t += pause);
  const app = {
    enabled: [0],
    dst: [0],
    rxQueueSizes: [256],
    txQueueSizes: [256],
    burst: 32,
    readWires: () => {
      const n = tick();
      return [{ generated: n, missed: 0, received: n, lost: 0, duplicated: 0, reordered: 0, badChecksum: 0, foreign: 0, writeErrors: 0 }];
    },
    readDevices: () => {
      const n = tick();
      return [{ rxPackets: n + (skew.deviceRxAhead ?? 0), rxMissed: 0, rxOther: 0, txPackets: n, txDropped: 0 }];
    },
    readDrivers: () => {
      const n = tick();
      return [{ ipackets: n - (skew.driverBehind ?? 0), opackets: n, ierrors: 0, oerrors: 0, rxNombuf: 0, txRingFull: 0 }];
    },
    appCounters: () => {
      const n = tick();
      return [{ port: 0, rx: n, tx: n, dropped: 0 }];
    },
  };
  return app as unknown as InprocL2fwd;
}

describe("checkDrift", () => {
  it("a reader paused between its reads sees no drift, however long the pause", () => {
    for (const pause of [0, 1, 64, 300, 10_000, 1_000_000]) expect(checkDrift(model(pause)), `pause ${pause}`).toEqual([]);
  });

  it("a device counting frames its wire never generated: the lower bound of wire ~ device fails", () => {
    const bad = checkDrift(model(10, { deviceRxAhead: 1000 }));
    expect(bad.map((c) => `${c.name}/${c.bound}`)).toContain("wire.generated ~ device.rx(all)/lower");
  });

  it("a driver more than a ring behind its device: the upper bound fails", () => {
    const bad = checkDrift(model(10, { driverBehind: 1000 }));
    expect(bad.map((c) => `${c.name}/${c.bound}`)).toContain("device.rxPackets >= driver.ipackets/upper");
  });
});

import { describe, expect, it } from "vitest";
import { formatJson, formatTable, type PortCounters, type WireCounters } from "./stats.js";

const ports: PortCounters[] = [
  { port: 0, rx: 1000, tx: 0, dropped: 0 },
  { port: 1, rx: 0, tx: 990, dropped: 10 },
];

describe("l2fwd statistics", () => {
  it("print DPDK's table, with fault lines only for faults that happened", () => {
    const quiet: WireCounters[] = [{ missed: 0, delivered: 0 }, { missed: 0, delivered: 990 }];
    const t = formatTable(ports, false, quiet);
    expect(t).toContain("Statistics for port 1 ------------------------------\nPackets sent:                      990");
    expect(t).toContain("Total packets dropped:              10");
    expect(t).not.toMatch(/missed|ring full|write errors|alloc failures/);

    const faulty: WireCounters[] = [
      { missed: 25, delivered: 0, rxNombuf: 3 },
      { missed: 0, delivered: 980, txRingFull: 2, wireWriteErrors: 10 },
    ];
    const lines = formatTable(ports, false, faulty).split("\n");
    // Every line of the block lines its figure up at the same column, as DPDK's does.
    for (const l of lines.filter((x) => /^(Packets|TX|RX|Wire)/.test(x))) expect(l.length).toBe(38);
    const port0 = lines.slice(lines.indexOf("Statistics for port 0 ------------------------------"));
    expect(port0.slice(1, 6)).toEqual([
      "Packets sent:                        0",
      "Packets received:                 1000",
      "Packets dropped:                     0",
      "Packets missed:                     25",
      "RX mbuf alloc failures:              3",
    ]);
    expect(lines).toContain("TX ring full:                        2");
    expect(lines).toContain("Wire write errors:                  10");
  });

  it("--json carries missed and the wire's counters per port", () => {
    const o = JSON.parse(formatJson(2, ports, ports, 1, [{ missed: 25, delivered: 0 }, { missed: 0, delivered: 990, wireWriteErrors: 0 }]));
    expect(o.ports[0]).toMatchObject({ port: 0, rx: 1000, missed: 25, wire_delivered: 0, rx_pps: 0 });
    expect(o.ports[1]).toMatchObject({ port: 1, tx: 990, dropped: 10, wire_delivered: 990, wire_write_errors: 0 });
    expect(o.total).toEqual({ rx: 1000, tx: 990, dropped: 10 });
  });

  it("--json carries a net_vhost port's non-zero xstats, and no xstats field for other ports", () => {
    const o = JSON.parse(formatJson(2, ports, ports, 1, [{ missed: 0, delivered: 0, xstats: { rx_q0_addr_outside_memory: 3, vhost_connections: 1 } }, { missed: 0, delivered: 990 }]));
    expect(o.ports[0].xstats).toEqual({ rx_q0_addr_outside_memory: 3, vhost_connections: 1 });
    expect(o.ports[1]).not.toHaveProperty("xstats");
  });
});

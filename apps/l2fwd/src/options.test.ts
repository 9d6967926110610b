import { describe, expect, it } from "vitest";
import { registerVdevKindHelp } from "@tpdk/vdev";
import { L2FWD_DEFAULTS, parseL2fwdArgs, parsePortmap } from "./options.js";
import { l2fwdUsage } from "./usage.js";
import { assignLcores, destinations, enabledPorts } from "./pairing.js";

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect((e as { code?: string }).code).toMatch(/^E/);
    expect((e as Error).name).toBe("UsageError");
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("l2fwd options", () => {
  it("takes DPDK's options with DPDK's defaults", () => {
    const o = parseL2fwdArgs(["-p", "0x3"]);
    expect(o).toMatchObject({ portmask: 3, portsPerLcore: 1, statsPeriod: 10, macUpdating: true, promiscuous: false, burst: 32, json: false });
    const p = parseL2fwdArgs(["-pf", "-q", "2", "-T0", "-P", "--no-mac-updating", "--portmap=(0,3)(1,2)", "--burst", "1", "--json"]);
    expect(p).toMatchObject({ portmask: 15, portsPerLcore: 2, statsPeriod: 0, macUpdating: false, promiscuous: true, burst: 1, json: true });
    expect(p.portmap).toEqual([[0, 3], [1, 2]]);
    expect(parseL2fwdArgs(["-p", "3", "--no-mac-updating", "--mac-updating"]).macUpdating).toBe(true);
  });

  it("names the option and the fix for every bad value", () => {
    expect(usage(() => parseL2fwdArgs([]))).toMatch(/-p PORTMASK is required/);
    expect(usage(() => parseL2fwdArgs(["-p", "xyz"]))).toMatch(/^-p: "xyz" is not a hexadecimal portmask/);
    expect(usage(() => parseL2fwdArgs(["-p", "0"]))).toMatch(/selects no port/);
    expect(usage(() => parseL2fwdArgs(["-p", "3", "-q", "0"]))).toMatch(/^-q: 0 is out of range/);
    expect(usage(() => parseL2fwdArgs(["-p", "3", "-T", "-1"]))).toMatch(/^-T: "-1" is not a number/);
    expect(usage(() => parseL2fwdArgs(["-p", "3", "--burst", "65"]))).toMatch(/^--burst: 65 is out of range; give the packets per burst, 1..64/);
    expect(usage(() => parseL2fwdArgs(["-p", "3", "--burst"]))).toMatch(/--burst needs a value/);
    expect(usage(() => parseL2fwdArgs(["-p", "3", "--frobnicate"]))).toMatch(/unknown l2fwd option "--frobnicate"/);
    // Flags take no value: "--json=1" is refused, not read as --json.
    for (const f of ["--json", "--no-mac-updating", "--mac-updating"]) {
      expect(usage(() => parseL2fwdArgs(["-p", "3", `${f}=1`]))).toBe(`${f} takes no value; write just ${f}`);
    }
    expect(usage(() => parsePortmap("(0,1"))).toMatch(/^--portmap: cannot parse/);
  });
});

describe("l2fwd help", () => {
  it("-h or --help anywhere asks for the usage, whatever else is on the line", () => {
    expect(parseL2fwdArgs(["--help"]).help).toBe(true);
    expect(parseL2fwdArgs(["-q", "zz", "-h"]).help).toBe(true);
    expect(parseL2fwdArgs(["-p", "0x3"]).help).toBe(false);
  });

  it("the usage names every option with its default and every --vdev kind", () => {
    const u = l2fwdUsage();
    expect(u).toContain(`-q NQ               ports (RX queues) polled by one lcore, 1..16 (default ${L2FWD_DEFAULTS.portsPerLcore})`);
    expect(u).toContain(`(default ${L2FWD_DEFAULTS.statsPeriod})`);
    expect(u).toContain(`(default ${L2FWD_DEFAULTS.burst})`);
    expect(u).toContain("EAL options (before --):");
    for (const w of ["gen", "sink", "pcap", "loop", "udp"]) expect(u).toMatch(new RegExp(`wire=${w} `));
    expect(u).toMatch(/--vdev net_virtio_userN,path=SOCKET/);
    registerVdevKindHelp({ prefix: "net_example", syntax: "net_example0,path=SOCKET", summary: "a kind registered later shows up too" });
    expect(l2fwdUsage()).toMatch(/--vdev net_example0,path=SOCKET\n\s+a kind registered later shows up too/);
  });
});

describe("l2fwd pairing", () => {
  it("checks the portmask against the ports that exist", () => {
    expect(enabledPorts(0b1011, 4)).toEqual([0, 1, 3]);
    expect(usage(() => enabledPorts(0b100, 2))).toMatch(/names port 2, but only 2 port\(s\) exist/);
  });

  it("pairs consecutive ports, the odd last one with itself", () => {
    expect(destinations([0, 1, 2, 3], [], 4).dst).toEqual([1, 0, 3, 2]);
    const odd = destinations([0, 1, 2], [], 3);
    expect(odd.dst).toEqual([1, 0, 2]);
    expect(odd.notices[0]).toMatch(/port 2 forwards to itself/);
    expect(destinations([1, 3], [], 4).dst).toEqual([-1, 3, -1, 1]);
  });

  it("follows --portmap and rejects pairs it cannot honour", () => {
    expect(destinations([0, 1, 2, 3], [[0, 3], [1, 2]], 4).dst).toEqual([3, 2, 1, 0]);
    expect(usage(() => destinations([0, 1], [[0, 2]], 3))).toMatch(/port 2 is not enabled/);
    expect(usage(() => destinations([0, 1, 2], [[0, 1]], 3))).toMatch(/port\(s\) 2 are in no pair/);
    expect(usage(() => destinations([0, 1, 2], [[0, 1], [1, 2]], 3))).toMatch(/more than one pair/);
  });

  it("gives each lcore up to -q ports, in order", () => {
    expect([...assignLcores([0, 1, 2], [0, 1], 2)]).toEqual([[0, [0, 1]], [1, [2]]]);
    expect([...assignLcores([0, 1], [0, 1], 1)]).toEqual([[0, [0]], [1, [1]]]);
    expect([...assignLcores([0, 1], [0, 1], 4)]).toEqual([[0, [0, 1]]]);
    expect(usage(() => assignLcores([0, 1, 2], [0], 2))).toMatch(/not enough lcores: 3 port\(s\) at -q 2 per lcore need 2 lcore\(s\)/);
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULTS, OptionError, parseOptions } from "./options.js";

describe("parseOptions", () => {
  it("defaults, and --quick changes only its own keys", () => {
    expect(parseOptions([])).toEqual({ ...DEFAULTS });
    const q = parseOptions(["--quick"]);
    expect(q.quick).toBe(true);
    expect(q.bursts).toEqual([1, 32]);
    expect(q.repeat).toBe(1);
    expect(q.txPaths).toEqual(DEFAULTS.txPaths);
    expect(parseOptions(["--quick", "--repeat", "2"]).repeat).toBe(2);
  });

  it("--fake writes fake.* unless --name says otherwise (never over a recorded full run)", () => {
    expect(parseOptions(["--fake"]).name).toBe("fake");
    expect(parseOptions(["--quick", "--fake"]).name).toBe("fake");
    expect(parseOptions(["--fake", "--name", "full"]).name).toBe("full");
  });

  it("jitter: a section of its own, 5 s by default, 1 s with --quick", () => {
    expect(parseOptions([]).only).toContain("jitter");
    expect(parseOptions([]).jitterDurationMs).toBe(5000);
    expect(parseOptions(["--quick"]).jitterDurationMs).toBe(1000);
    const o = parseOptions(["--only", "jitter", "--jitter-duration", "2000"]);
    expect(o.only).toEqual(["jitter"]);
    expect(o.jitterDurationMs).toBe(2000);
    expect(() => parseOptions(["--jitter-duration", "50"])).toThrow(/^--jitter-duration 50: out of range/);
  });

  it("vhost-user: a section of its own, with the dpdk sections' bursts and times", () => {
    expect(parseOptions([]).only).toContain("vhost-user");
    const o = parseOptions(["--only", "vhost-user", "--dpdk-bursts", "32,1", "--repeat", "3"]);
    expect(o.only).toEqual(["vhost-user"]);
    expect(o.dpdkBursts).toEqual([1, 32]);
    expect(() => parseOptions(["--only", "vhost"])).toThrow(/^--only vhost: not a section; use .*vhost-user/);
  });

  it("net-vhost: a section of its own (the back-ends compared), in the default set", () => {
    expect(parseOptions([]).only).toContain("net-vhost");
    expect(parseOptions(["--only", "net-vhost"]).only).toEqual(["net-vhost"]);
  });

  it("vhost-user ring layouts: split and packed by default, --vu-rings picks", () => {
    expect(parseOptions([]).vuRings).toEqual(["split", "packed"]);
    expect(parseOptions(["--vu-rings", "packed"]).vuRings).toEqual(["packed"]);
    expect(() => parseOptions(["--vu-rings", "split,ring"])).toThrow(/^--vu-rings split,ring: use split and\/or packed/);
  });

  it("vhost-user tpdk runs per back-end instance: 1 by default, --vu-tpdk-runs sets, 0 refused naming the option", () => {
    expect(parseOptions([]).vuTpdkRuns).toBe(1);
    expect(parseOptions(["--vu-tpdk-runs", "3"]).vuTpdkRuns).toBe(3);
    expect(() => parseOptions(["--vu-tpdk-runs", "0"])).toThrow(/^--vu-tpdk-runs 0: out of range; use 1\.\.20/);
  });

  it("line move between the DPDK comparisons' runs: 1000 ms by default (--quick too), 0 turns it off, a bad value refused naming the option", () => {
    expect(parseOptions([]).lineMoveMs).toBe(1000);
    expect(parseOptions(["--quick"]).lineMoveMs).toBe(1000);
    expect(parseOptions(["--line-move", "0"]).lineMoveMs).toBe(0);
    expect(parseOptions(["--line-move=300"]).lineMoveMs).toBe(300);
    expect(() => parseOptions(["--line-move", "1s"])).toThrow(/^--line-move 1s: not a whole number; use 0\.\.60000/);
    expect(() => parseOptions(["--line-move", "70000"])).toThrow(/^--line-move 70000: out of range; use 0\.\.60000/);
  });

  it("parses lists, rates and name=value", () => {
    const o = parseOptions(["--", "--bursts=32,1,32", "--tx-paths", "push", "--in-order", "1", "--latency-rate", "2.5M", "--only", "throughput,latency"]);
    expect(o.bursts).toEqual([1, 32]);
    expect(o.txPaths).toEqual(["push"]);
    expect(o.inOrder).toEqual([true]);
    expect(o.latencyRate).toBe(2_500_000);
    expect(o.only).toEqual(["throughput", "latency"]);
  });

  it("names the option in every error", () => {
    const bad: [string[], RegExp][] = [
      [["--bursts", "0"], /^--bursts 0: out of range/],
      [["--bursts", "1,,2"], /^--bursts 1,,2: empty item/],
      [["--tx-paths", "simple"], /^--tx-paths simple: not a TX path/],
      [["--queue-size", "1000"], /^--queue-size 1000: not a power of two/],
      [["--latency-rate", "fast"], /^--latency-rate fast:/],
      [["--only", "micro"], /^--only micro: not a section/],
      [["--repeat"], /^--repeat needs a value/],
      [["--frobnicate"], /^unknown option --frobnicate/],
      [["--quick=1"], /^--quick takes no value/],
      [["--name", "a/b"], /^--name a\/b:/],
    ];
    for (const [argv, re] of bad) {
      expect(() => parseOptions(argv)).toThrow(OptionError);
      expect(() => parseOptions(argv)).toThrow(re);
    }
  });
});

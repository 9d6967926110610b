import { describe, expect, it } from "vitest";
import { usageErrorMessage } from "@tpdk/testing/eal";
import { EAL_DEFAULTS, dropRunnerSeparator, parseCoreList, parseEalArgs, resolveEalOptions } from "./args.js";

describe("parseCoreList", () => {
  it("parses singles, ranges and mixes, sorted and unique", () => {
    expect(parseCoreList("1")).toEqual([1]);
    expect(parseCoreList("0-1")).toEqual([0, 1]);
    expect(parseCoreList("0,2-3")).toEqual([0, 2, 3]);
    expect(parseCoreList("3,1,1-2")).toEqual([1, 2, 3]);
    expect(parseCoreList("63")).toEqual([63]);
  });
  it("rejects junk with the option name and a fix", () => {
    expect(usageErrorMessage(() => parseCoreList("0-x"))).toBe('-l: "0-x" is not a core list; use e.g. -l 0 or -l 0-1');
    expect(usageErrorMessage(() => parseCoreList(""))).toMatch(/^-l: empty core list; use e.g. -l 0/);
    expect(usageErrorMessage(() => parseCoreList("1,"))).toMatch(/^-l: "1," is not a core list/);
    expect(usageErrorMessage(() => parseCoreList("-1"))).toMatch(/is not a core list/);
    expect(usageErrorMessage(() => parseCoreList("64"))).toBe("-l: core 64 is out of range; core ids are 0..63");
    expect(usageErrorMessage(() => parseCoreList("0-100"))).toMatch(/core 100 is out of range/);
    expect(usageErrorMessage(() => parseCoreList("3-1"))).toBe('-l: range "3-1" is reversed; write it low-high, e.g. -l 1-3');
  });
});

describe("parseEalArgs", () => {
  it("defaults when empty", () => {
    const { eal, appArgs } = parseEalArgs([]);
    expect(eal).toEqual(EAL_DEFAULTS);
    expect(eal.lcores).toEqual([0]);
    expect(eal.memoryMb).toBe(256);
    expect(appArgs).toEqual([]);
  });
  it("splits at -- and keeps vdevs in order", () => {
    const { eal, appArgs } = parseEalArgs([
      "-l", "0-1", "-m", "64", "--vdev", "virtio0,wire=gen", "--vdev=virtio1,wire=sink",
      "--no-pin", "--busy-poll", "--", "-p", "0x3", "--", "-T", "1",
    ]);
    expect(eal.lcores).toEqual([0, 1]);
    expect(eal.memoryMb).toBe(64);
    expect(eal.vdevs).toEqual(["virtio0,wire=gen", "virtio1,wire=sink"]);
    expect(eal.noPin).toBe(true);
    expect(eal.busyPoll).toBe(true);
    expect(eal.help).toBe(false);
    expect(eal.noHuge).toBe(false);
    expect(eal.sharedMemory).toBe(false);
    expect(appArgs).toEqual(["-p", "0x3", "--", "-T", "1"]);
  });
  it("accepts attached short values and help", () => {
    const { eal } = parseEalArgs(["-l1", "-m16", "-h"]);
    expect(eal.lcores).toEqual([1]);
    expect(eal.memoryMb).toBe(16);
    expect(eal.help).toBe(true);
    expect(parseEalArgs(["--help"]).eal.help).toBe(true);
  });
  it("accepts --no-huge (DPDK's flag) and stores it; sharedMemory has no flag and defaults to false", () => {
    expect(parseEalArgs(["--no-huge"]).eal.noHuge).toBe(true);
    expect(EAL_DEFAULTS.noHuge).toBe(false);
    expect(EAL_DEFAULTS.sharedMemory).toBe(false);
    expect(resolveEalOptions({ sharedMemory: true }).sharedMemory).toBe(true);
    expect(usageErrorMessage(() => parseEalArgs(["--no-huge=1"]))).toMatch(/^--no-huge takes no value/);
    expect(usageErrorMessage(() => parseEalArgs(["--shared-memory"]))).toMatch(/^unknown EAL option '--shared-memory'/);
  });
  it("rejects bad input naming the option", () => {
    expect(usageErrorMessage(() => parseEalArgs(["-l", "0-x"]))).toBe('-l: "0-x" is not a core list; use e.g. -l 0 or -l 0-1');
    expect(usageErrorMessage(() => parseEalArgs(["-l"]))).toMatch(/^-l: missing value; use e\.g\. -l 0/);
    expect(usageErrorMessage(() => parseEalArgs(["-l", "--no-pin"]))).toMatch(/^-l: missing value/);
    expect(usageErrorMessage(() => parseEalArgs(["-m", "lots"]))).toBe('-m: "lots" is not a number of megabytes; use e.g. -m 256');
    expect(usageErrorMessage(() => parseEalArgs(["-m", "5000"]))).toMatch(/^-m: 5000 MB is too large; the maximum is 4095/);
    expect(usageErrorMessage(() => parseEalArgs(["-m", "0"]))).toMatch(/^-m: 0 is not a memory size/);
    expect(usageErrorMessage(() => parseEalArgs(["--vdev"]))).toMatch(/^--vdev: missing value; use e\.g\. --vdev virtio0/);
    expect(usageErrorMessage(() => parseEalArgs(["-p", "3"]))).toMatch(/^unknown EAL option '-p'; .* before '--'/);
    expect(usageErrorMessage(() => parseEalArgs(["--no-pin=1"]))).toMatch(/^--no-pin takes no value/);
    expect(usageErrorMessage(() => parseEalArgs(["-l", "0", "-l", "1"]))).toMatch(/^-l given twice/);
    expect(usageErrorMessage(() => parseEalArgs(["stray"]))).toMatch(/^unexpected argument 'stray' before '--'/);
  });
  it("resolveEalOptions validates programmatic options the same way", () => {
    expect(resolveEalOptions({ lcores: [1, 0, 1], memoryMb: 8 }).lcores).toEqual([0, 1]);
    expect(usageErrorMessage(() => resolveEalOptions({ lcores: [64] }))).toMatch(/^-l: core 64 is out of range/);
    expect(usageErrorMessage(() => resolveEalOptions({ lcores: [] }))).toMatch(/^-l: no lcores/);
    expect(usageErrorMessage(() => resolveEalOptions({ memoryMb: 1.5 }))).toMatch(/^-m: /);
  });
});

describe("dropRunnerSeparator", () => {
  it.each([
    [["--", "-l", "0", "--", "-p", "0x3"], ["-l", "0", "--", "-p", "0x3"]],
    [["--", "-l0", "--vdev", "v,wire=gen"], ["-l0", "--vdev", "v,wire=gen"]],
    [["--", "--vdev=v,wire=gen"], ["--vdev=v,wire=gen"]],
    [["--", "--", "-p", "0x3"], ["--", "-p", "0x3"]],
    [["--", "-h"], ["-h"]],
  ])("drops the runner's leading -- in %j", (argv, want) => {
    expect(dropRunnerSeparator(argv)).toEqual(want);
  });
  it.each([[["--", "-p", "0x3"]], [["--", "-T", "1"]], [["--"]], [["-l", "0", "--", "-p", "1"]]])(
    "keeps DPDK's separator in %j",
    (argv) => {
      expect(dropRunnerSeparator(argv)).toEqual(argv);
    },
  );
  it("reads `-- -p 0x3` as application options with default EAL options", () => {
    const { eal, appArgs } = parseEalArgs(dropRunnerSeparator(["--", "-p", "0x3"]));
    expect(eal).toEqual(EAL_DEFAULTS);
    expect(appArgs).toEqual(["-p", "0x3"]);
  });
});

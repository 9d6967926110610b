import { describe, expect, it } from "vitest";
import { UsageError } from "@tpdk/eal";
import { MICRO_DEFAULTS, parseMicroArgs } from "./options.js";

describe("bench:micro options", () => {
  it("defaults, --quick, --time, --only", () => {
    expect(parseMicroArgs([])).toEqual({ quick: false, timeMs: MICRO_DEFAULTS.timeMs, only: null, help: false });
    expect(parseMicroArgs(["--quick"]).timeMs).toBe(MICRO_DEFAULTS.quickTimeMs);
    expect(parseMicroArgs(["--quick", "--time", "50"]).timeMs).toBe(50);
    expect(parseMicroArgs(["--only", "pmd"]).only).toBe("pmd");
  });

  it("-h and --help win over everything else", () => {
    expect(parseMicroArgs(["--only", "nope", "--help"]).help).toBe(true);
    expect(parseMicroArgs(["-h"]).help).toBe(true);
  });

  it("a bad option or value is a UsageError naming it", () => {
    expect(() => parseMicroArgs(["--bogus"])).toThrow(UsageError);
    expect(() => parseMicroArgs(["--bogus"])).toThrow(/--bogus/);
    expect(() => parseMicroArgs(["--only", "nope"])).toThrow(/--only/);
    expect(() => parseMicroArgs(["--time", "0"])).toThrow(/--time/);
    expect(() => parseMicroArgs(["--time"])).toThrow(/--time needs a value/);
  });
});

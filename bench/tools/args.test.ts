import { afterEach, describe, expect, it, vi } from "vitest";
import { argsProblem, checkArgs, nonNegativeInt, oneOf, opt, optAll, positiveInt, seconds, validNodeFlags } from "./args.js";

const argv = process.argv;
afterEach(() => {
  process.argv = argv;
  vi.restoreAllMocks();
});

describe("bench tool options", () => {
  it("opt: the value after the name, the default without it, '' when nothing follows", () => {
    process.argv = ["node", "tool.js", "--sides", "dpdk,/w", "--keep"];
    expect(opt("--sides", "dpdk")).toBe("dpdk,/w");
    expect(opt("--runs", "7")).toBe("7");
    expect(opt("--keep", "x")).toBe("");
  });

  it("positiveInt: a positive integer, else one line naming the tool and the option, exit 2", () => {
    process.argv = ["node", "tool.js", "--runs", "9", "--burst", "0"];
    expect(positiveInt("t", "--runs", "7")).toBe(9);
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => positiveInt("t", "--burst", "32")).toThrow("exit");
    expect(exit).toHaveBeenCalledWith(2);
    expect(err).toHaveBeenCalledWith("t: option --burst must be a positive integer (got '0')");
  });

  it("nonNegativeInt: an integer >= 0 (0 turns a step off), else one line naming the tool and the option, exit 2", () => {
    process.argv = ["node", "tool.js", "--line-move", "0", "--ms", "1.5"];
    expect(nonNegativeInt("t", "--line-move", "1000")).toBe(0);
    expect(nonNegativeInt("t", "--absent", "1000")).toBe(1000);
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => nonNegativeInt("t", "--ms", "1000")).toThrow("exit");
    expect(exit).toHaveBeenCalledWith(2);
    expect(err).toHaveBeenCalledWith("t: option --ms must be an integer >= 0 (got '1.5')");
  });

  it("oneOf and seconds: a listed value / seconds >= 0, else one line naming the tool and the option, exit 2", () => {
    process.argv = ["node", "tool.js", "--tx", "indirect", "--mrg", "2", "--warmup", "0", "--duration", "-1"];
    expect(oneOf("t", "--tx", "push", ["push", "chained", "indirect"])).toBe("indirect");
    expect(seconds("t", "--warmup", "1")).toBe(0);
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => oneOf("t", "--mrg", "1", ["0", "1"])).toThrow("exit");
    expect(err).toHaveBeenLastCalledWith("t: option --mrg must be one of 0, 1 (got '2')");
    expect(() => seconds("t", "--duration", "30")).toThrow("exit");
    expect(err).toHaveBeenLastCalledWith("t: option --duration must be a number of seconds >= 0 (got '-1')");
    expect(exit).toHaveBeenCalledTimes(2);
    expect(exit).toHaveBeenCalledWith(2);
  });

  const known = { values: ["--burst", "--sides"], repeatable: ["--node-flag"], flags: ["--packed"] };

  it("argsProblem: a typo, a missing value, an option given twice; a repeatable option and a flag are fine", () => {
    expect(argsProblem(["--sides", "dpdk,/w", "--packed", "--node-flag", "--perf-prof", "--node-flag", "--trace-deopt"], known)).toBeNull();
    expect(argsProblem(["--brust", "32"], known)).toBe("unknown argument '--brust' (--help lists the options)");
    expect(argsProblem(["--burst", "32", "1"], known)).toBe("unknown argument '1' (--help lists the options)");
    expect(argsProblem(["--burst"], known)).toBe("option --burst needs a value after it (--help)");
    expect(argsProblem(["--burst", "--packed"], known)).toBe("option --burst needs a value after it (--help)");
    expect(argsProblem(["--burst", "1", "--burst", "32"], known)).toBe("option --burst given twice");
    expect(argsProblem(["--packed", "--packed"], known)).toBe("option --packed given twice");
  });

  it("checkArgs: one line naming the tool and the problem, exit 2; optAll: every value of a repeated option", () => {
    process.argv = ["node", "tool.js", "--node-flag", "--perf-prof", "--burst", "1", "--node-flag", "--trace-gc"];
    expect(() => checkArgs("t", "usage: t", known)).not.toThrow();
    expect(optAll("--node-flag")).toEqual(["--perf-prof", "--trace-gc"]);
    expect(optAll("--sides")).toEqual([]);
    process.argv = ["node", "tool.js", "--runs", "9"];
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => checkArgs("t", "usage: t", known)).toThrow("exit");
    expect(exit).toHaveBeenCalledWith(2);
    expect(err).toHaveBeenCalledWith("t: unknown argument '--runs' (--help lists the options)");
  });

  it("checkArgs: --help or -h prints the usage, exit 0, before any other check", () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    for (const h of ["--help", "-h"]) {
      process.argv = ["node", "tool.js", "--brust", "32", h];
      expect(() => checkArgs("t", "usage: t [--burst N]", known)).toThrow("exit");
      expect(exit).toHaveBeenLastCalledWith(0);
      expect(log).toHaveBeenLastCalledWith("usage: t [--burst N]");
    }
  });

  it("validNodeFlags: every --node-flag in order; a value that is not a flag: one line naming the option, exit 2", () => {
    process.argv = ["node", "tool.js", "--node-flag", "--perf-basic-prof", "--burst", "1", "--node-flag", "--trace-deopt"];
    expect(validNodeFlags("t")).toEqual(["--perf-basic-prof", "--trace-deopt"]);
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    process.argv = ["node", "tool.js", "--node-flag", "trace-deopt"];
    expect(() => validNodeFlags("t")).toThrow("exit");
    expect(exit).toHaveBeenCalledWith(2);
    expect(err).toHaveBeenCalledWith("t: option --node-flag needs a node/V8 flag after it, e.g. --node-flag --trace-deopt (got 'trace-deopt')");
  });
});

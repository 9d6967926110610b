import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
// Owned (as the bench's own children are): SIGKILLed by PID if the test process dies before
// superviseChild's limit does it.
import { ownedChild } from "@tpdk/testing/owned";
import { superviseChild } from "./child.js";

function run(code: string, limitMs = 10_000) {
  const child = ownedChild(spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "pipe"] }));
  return superviseChild(child, { limitMs, results: child.stdout!, prefix: "RESULT ", errChars: 1000, errLines: 2 });
}

describe("superviseChild", () => {
  it("returns the result line of a child that exits 0", async () => {
    const c = await run(`console.log("noise"); console.log("RESULT {\\"x\\":1}");`);
    expect(c.result).toBe('{"x":1}');
    expect(c.why).toBe("exit code 0");
  });

  it("says why there is no result: exit code and the end of stderr", async () => {
    const c = await run(`console.error("a\\nb\\nc"); console.log("RESULT 1"); process.exit(3);`);
    expect(c.result).toBeNull(); // a result line from a failed child does not count
    expect(c.why).toBe("exit code 3");
    expect(c.errTail).toBe("b\nc");
  });

  it("kills a child that outlives its limit", async () => {
    const c = await run("setTimeout(() => {}, 60_000);", 300);
    expect(c.result).toBeNull();
    expect(c.why).toBe("killed after 300 ms (timeout)");
  });
});

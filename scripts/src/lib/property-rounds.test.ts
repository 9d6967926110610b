// pnpm fuzz -- --side properties (property-rounds.ts): the unit property files in rounds on fresh
// seeds. The loop with a stand-in round; one real round (a vitest child on one file) to show the
// seed reaches assertProperty in the child; the list of files against the tree.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROPERTY_FILES, REPO, type RoundOutcome, replayCommand, runPropertyRounds, testsLine, vitestRound } from "./property-rounds.js";

/** Every *.test.ts under `dir` (no node_modules, no dist), relative to the repository. */
function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith(".test.ts")) out.push(relative(REPO, p));
  }
  return out;
}

describe("property rounds", () => {
  it("PROPERTY_FILES is every test file using @tpdk/testing/property but that module's own test", () => {
    const using = ["packages", "apps", "test", "scripts/src", "bench"]
      .flatMap((d) => testFiles(join(REPO, d)))
      .filter((f) => f !== "test/support/src/property.test.ts" && /from "@tpdk\/testing\/property"/.test(readFileSync(join(REPO, f), "utf8")));
    expect([...PROPERTY_FILES].sort()).toEqual(using.sort());
  });

  it("runs rounds on seeds S, S + 1, ... (mod 2^32) until the time is up, one at least", async () => {
    const seeds: number[] = [];
    const pass = async (seed: number): Promise<RoundOutcome> => {
      seeds.push(seed);
      await new Promise((r) => setTimeout(r, 20));
      return { ok: true, output: " Tests  3 passed (3)\n" };
    };
    const lines: string[] = [];
    const one = await runPropertyRounds({ seconds: 0, seed: 2 ** 32 - 1, run: pass, log: (l) => lines.push(l) });
    expect(one).toEqual({ rounds: 1, seeds: [4294967295, 4294967295], failure: null });
    expect(lines).toEqual([expect.stringMatching(/^properties: round 1, TPDK_PROPERTY_SEED=4294967295: 3 passed \(3\) \(\d+\.\d s\)$/)]);
    seeds.length = 0;
    const many = await runPropertyRounds({ seconds: 0.2, seed: 2 ** 32 - 2, run: pass });
    expect(many.rounds).toBeGreaterThan(2);
    expect(seeds.slice(0, 3)).toEqual([4294967294, 4294967295, 0]);
    expect(many.seeds).toEqual([4294967294, seeds.at(-1)]);
  });

  it("stops at the first failed round with its seed, its output and the command that replays it", async () => {
    const run = async (seed: number): Promise<RoundOutcome> => (seed === 12 ? { ok: false, output: "FAIL ring" } : { ok: true, output: "" });
    const r = await runPropertyRounds({ seconds: 60, seed: 10, run });
    expect(r.rounds).toBe(3);
    expect(r.seeds).toEqual([10, 12]);
    expect(r.failure).toEqual({ seed: 12, output: "FAIL ring", replay: replayCommand(12) });
    expect(r.failure!.replay).toBe(`TPDK_PROPERTY_SEED=12 npx vitest run ${PROPERTY_FILES.join(" ")}`);
  });

  it("a real round: vitest on the files with TPDK_PROPERTY_SEED set, which assertProperty in the child reads", async () => {
    const file = ["packages/vhost/src/wires/wire-latency.test.ts"];
    const ok = await vitestRound(file)(12345);
    expect(ok.ok, ok.output).toBe(true);
    expect(testsLine(ok.output)).toMatch(/^\d+ passed \(\d+\)$/);
    // A seed assertProperty refuses (past 2^32 - 1): the child's property says so, so the round carried it.
    const bad = await vitestRound(file)(2 ** 32);
    expect(bad.ok).toBe(false);
    expect(bad.output).toContain("TPDK_PROPERTY_SEED=4294967296: use random or a seed 0..4294967295");
  }, 120_000);
});

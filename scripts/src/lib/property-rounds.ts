// The unit property tests on fresh seeds (pnpm fuzz -- --side properties): round after round, the
// files below run in a vitest child with TPDK_PROPERTY_SEED=<seed> (@tpdk/testing/property:
// every assertProperty of the round on that seed instead of its fixed one), seeds S, S + 1, ...
// until the time is up (one round at least). A failed round stops the run with its seed and the
// command that replays it. CI keeps the fixed seeds (the variable unset).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runOwned } from "@tpdk/testing/owned";
import { SEED_ENV } from "@tpdk/testing/property";

/** The repository (the same relative path from src/lib and dist/lib). */
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * The unit test files with properties (assertProperty), relative to the repository: the ring's, vhost's
 * wires' and device's, virtio-pmd's packed driver; and net_vhost's message-channel fuzz and ring fuzz
 * (their own PRNGs, seeded by propertySeed). property-rounds.test.ts checks this is every test file that imports
 * @tpdk/testing/property (less that module's own test, which pins its seeds).
 */
export const PROPERTY_FILES: readonly string[] = [
  "packages/ring/src/ring.test.ts",
  "packages/vhost/src/wires/frame.test.ts",
  "packages/vhost/src/wires/frame-queue.test.ts",
  "packages/vhost/src/wires/wire-latency.test.ts",
  "packages/vhost/src/wires/wire-sink.test.ts",
  "packages/vhost/src/wires/wire-sink-run.test.ts",
  "packages/vhost/src/device/property.test.ts",
  "packages/vhost/src/device/packed.test.ts",
  "packages/vhost/src/device/packed-used-run.test.ts",
  "packages/virtio-pmd/src/packed.test.ts",
  "packages/vhost-user/src/backend/fuzz.test.ts",
  "packages/vhost-user/src/backend/data-path.test.ts",
];

/** What one round gave. */
export interface RoundOutcome {
  ok: boolean;
  /** The round's output (vitest's, or why it did not run). */
  output: string;
}

/** Runs one round on `seed`: the default is the vitest child (vitestRound). */
export type RoundRunner = (seed: number) => Promise<RoundOutcome>;

export interface PropertyRoundsOptions {
  seconds: number;
  /** The first round's seed; round r runs on seed + r (mod 2^32). */
  seed: number;
  files?: readonly string[];
  log?: (line: string) => void;
  run?: RoundRunner;
}

export interface PropertyRoundsResult {
  rounds: number;
  /** The seeds of the first and last round run. */
  seeds: [number, number];
  /** The failed round: its seed, its output and the command that replays it; null when every round passed. */
  failure: { seed: number; output: string; replay: string } | null;
}

/** The command that runs `files` on `seed` from the repository, as a user types it. */
export function replayCommand(seed: number, files: readonly string[] = PROPERTY_FILES): string {
  return `${SEED_ENV}=${seed} npx vitest run ${files.join(" ")}`;
}

/** A round's bound: ten files of properties each bounded to 20 s (limitMs), on a starved machine, and vitest's start. */
const ROUND_TIMEOUT_MS = 600_000;

/** One round in a vitest child (owned and bounded: runOwned) run from the repository with TPDK_PROPERTY_SEED=<seed>. */
export function vitestRound(files: readonly string[] = PROPERTY_FILES): RoundRunner {
  const vitest = `${REPO}node_modules/vitest/vitest.mjs`;
  return async (seed) => {
    if (!existsSync(vitest)) return { ok: false, output: `${vitest} not found: install the workspace (pnpm install)` };
    const r = await runOwned(process.execPath, [vitest, "run", ...files], {
      cwd: REPO,
      env: { ...process.env, [SEED_ENV]: String(seed), NO_COLOR: "1", FORCE_COLOR: "0" },
      timeoutMs: ROUND_TIMEOUT_MS,
    });
    const output = `${r.stdout}${r.stderr}${r.timedOut ? `\nthe round did not end within ${ROUND_TIMEOUT_MS / 1000} s (SIGKILLed)` : ""}`;
    return { ok: r.status === 0, output };
  };
}

/** vitest's "Tests  N passed (N)" line of a round's output, or "". */
export function testsLine(output: string): string {
  return /^\s*Tests\s+(.*)$/m.exec(output)?.[1]?.trim() ?? "";
}

/** Rounds until `o.seconds` are up (one at least); stops at the first failed round. */
export async function runPropertyRounds(o: PropertyRoundsOptions): Promise<PropertyRoundsResult> {
  const files = o.files ?? PROPERTY_FILES;
  const run = o.run ?? vitestRound(files);
  const log = o.log ?? (() => {});
  const end = performance.now() + o.seconds * 1000;
  const first = o.seed >>> 0;
  let r = 0;
  do {
    const seed = (o.seed + r) >>> 0;
    const t0 = performance.now();
    const out = await run(seed);
    r++;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (!out.ok) {
      log(`properties: round ${r}, ${SEED_ENV}=${seed}: FAILED (${secs} s)`);
      return { rounds: r, seeds: [first, seed], failure: { seed, output: out.output, replay: replayCommand(seed, files) } };
    }
    log(`properties: round ${r}, ${SEED_ENV}=${seed}: ${testsLine(out.output) || "passed"} (${secs} s)`);
  } while (performance.now() < end);
  return { rounds: r, seeds: [first, (o.seed + r - 1) >>> 0], failure: null };
}

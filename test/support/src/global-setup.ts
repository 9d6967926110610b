// vitest's globalSetup (vitest.config.ts): before a run, remove the owned temporary and
// DPDK runtime folders (`tpdk-<pid>-...`, e2e/owned.ts) whose owner process is dead: what a killed
// test process left when its watchdog could not remove it. A live owner's are never touched.
import { sweepDeadOwners } from "./e2e/owned.js";

// (Not after the run too: the watchdogs of the run's own forks are still removing theirs then.)
export default function setup(): void {
  const removed = sweepDeadOwners();
  if (removed.length > 0) console.log(`tpdk tests: removed ${removed.length} folder(s) of dead test processes: ${removed.join(" ")}`);
}

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { dpdkRuntimeRoot, sweepDead } from "@tpdk/testing/owned";

/**
 * What a bench leaves when it dies before its `finally` (a SIGKILL, an outer
 * timeout whose watchdog went too): its vhost-user socket and the DPDK runtime
 * folders of its testpmds' --file-prefix. Both names carry the bench's PID
 * (the pair's tag): `/tmp/tpdk-bench-<pid>.sock` and
 * `<runtime root>/tpdkbench-{vhost,virtio}-<pid>`. Only these names are
 * swept, and only when that PID is no live process and no live process's
 * command line names them (a testpmd or l2fwd that outlived its bench still
 * has its socket and --file-prefix on its command line).
 */

/** Where the bench's vhost-user socket lives. */
export const SOCK_DIR = "/tmp";

/** The vhost-user socket of the bench with PID `pid`. */
export function benchSock(pid: number = process.pid): string {
  return join(SOCK_DIR, `tpdk-bench-${pid}.sock`);
}

const SOCK_NAME = /^tpdk-bench-(\d+)\.sock$/;
const PREFIX_NAME = /^tpdkbench-(?:vhost|virtio)-(\d+)$/;

/** The command lines of every live process (NUL-separated arguments joined by spaces). */
function commandLines(): string[] {
  const out: string[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      out.push(readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" "));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The folders swept: the socket's and DPDK's runtime root (`dpdkRuntimeRoot`, where runtimeDir puts each prefix). */
export interface SweepRoots {
  sockDir: string;
  runtimeRoot: string;
}

export const SWEEP_ROOTS: SweepRoots = { sockDir: SOCK_DIR, runtimeRoot: dpdkRuntimeRoot() };

/**
 * Remove the sockets and runtime folders of dead benches (names above, PID
 * not alive, named by no live command line). Never this process's own (it is
 * alive). Returns what it removed.
 */
export function sweepDeadBenches(roots: SweepRoots = SWEEP_ROOTS): string[] {
  let lines: string[] | undefined; // read once, and only when a dead bench's name is found
  const named = (name: string): boolean => (lines ??= commandLines()).some((l) => l.includes(name));
  return [...sweepDead([roots.sockDir], SOCK_NAME, named), ...sweepDead([roots.runtimeRoot], PREFIX_NAME, named)];
}

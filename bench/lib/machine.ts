import { readFileSync } from "node:fs";
import { cpus } from "node:os";

/** The CPU model a result was measured on (/proc/cpuinfo's first "model name", else Node's). */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? "unknown";
}

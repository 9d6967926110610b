import { readFileSync } from "node:fs";

/** Total and idle jiffies of all CPUs (/proc/stat "cpu" line); null off Linux. */
function cpuTimes(): { total: number; idle: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    return { total: f.reduce((a, b) => a + b, 0), idle };
  } catch {
    return null;
  }
}

/** Fraction of all CPUs' time that was idle over the next `ms` milliseconds (1 off Linux). */
export async function idleFraction(ms: number): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return 1;
  return (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Wait until the machine's CPUs are at least `minIdle` idle over a 500 ms
 * sample (other jobs done), for at most `maxWaitS` seconds. Returns the
 * last idle fraction seen and the seconds waited.
 */
export async function waitForIdle(minIdle: number, maxWaitS: number, onWait: (idle: number) => void): Promise<{ idle: number; waitedS: number }> {
  const t0 = performance.now();
  let idle = await idleFraction(500);
  let told = false;
  while (idle < minIdle && (performance.now() - t0) / 1000 < maxWaitS) {
    if (!told) {
      onWait(idle);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
    idle = await idleFraction(500);
  }
  return { idle, waitedS: (performance.now() - t0) / 1000 };
}

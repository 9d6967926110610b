import { readFileSync } from "node:fs";

/**
 * Whether an fd a front-end sent is an eventfd: Linux's /proc/self/fdinfo/<fd>
 * has an eventfd-count line for one (fstat shows only an anonymous inode).
 * Control path (reads a file); false when the entry cannot be read.
 */
export function isEventfd(fd: number): boolean {
  try {
    return /^eventfd-count:/m.test(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  } catch {
    return false;
  }
}

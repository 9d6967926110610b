import { readFileSync } from "node:fs";

/**
 * What Linux says of an fd a front-end sent (/proc/self/fdinfo/<fd>): its open
 * flags and whether it is an eventfd. Control path (reads a file); null when
 * the fd is not open or the entry cannot be read.
 */
export interface FdInfo {
  /** The open flags (O_ACCMODE in the low two bits, O_NONBLOCK...). */
  readonly flags: number;
  /** An eventfd (the entry has an eventfd-count line). */
  readonly eventfd: boolean;
}

/** O_ACCMODE and its O_RDWR value. */
export const O_ACCMODE = 0o3;
export const O_RDWR = 0o2;

export function fdInfo(fd: number): FdInfo | null {
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  } catch {
    return null;
  }
  const m = /^flags:\s*([0-7]+)$/m.exec(text);
  if (m === null) return null;
  return { flags: parseInt(m[1]!, 8), eventfd: /^eventfd-count:/m.test(text) };
}

import { afterEach, describe, expect, it } from "vitest";
import { native, nativeMissingReason } from "./index.js";

const skipNote = nativeMissingReason === null ? "" : ` (skipped: ${nativeMissingReason})`;

describe.skipIf(native === null)(`eventfd${skipNote}`, () => {
  const n = native!;
  const fds: number[] = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) n.close(fd);
  });

  it("write adds, read returns the sum and resets; empty read is 0 (EAGAIN)", () => {
    const fd = n.eventfd(0);
    fds.push(fd);
    expect(n.eventfdRead(fd)).toBe(0);
    expect(n.eventfdWrite(fd)).toBe(true);
    expect(n.eventfdWrite(fd, 41)).toBe(true);
    expect(n.eventfdRead(fd)).toBe(42);
    expect(n.eventfdRead(fd)).toBe(0);
  });

  it("initval and semaphore mode", () => {
    const fd = n.eventfd(3, { semaphore: true });
    fds.push(fd);
    expect([n.eventfdRead(fd), n.eventfdRead(fd), n.eventfdRead(fd), n.eventfdRead(fd)]).toEqual([1, 1, 1, 0]);
  });

  it("a write that would overflow the counter returns false (EAGAIN) on a non-blocking eventfd", () => {
    const fd = n.eventfd(0);
    fds.push(fd);
    // The counter's maximum is 2^64 - 2; keep adding 2^53 - 1 until it is full.
    let ok = 0;
    while (ok < 5000 && n.eventfdWrite(fd, Number.MAX_SAFE_INTEGER)) ok++;
    expect(ok).toBe(2048); // floor((2^64 - 2) / (2^53 - 1)): 2048 * (2^53 - 1) = 2^64 - 2048
    expect(n.eventfdWrite(fd, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(n.eventfdRead(fd)).toBeGreaterThan(0);
    expect(n.eventfdWrite(fd)).toBe(true);
  });

  it("poll sees it readable only after a write", () => {
    const fd = n.eventfd(0);
    fds.push(fd);
    expect(n.poll(fd, n.POLLIN, 0)).toBe(0);
    n.eventfdWrite(fd);
    expect(n.poll(fd, n.POLLIN, 0) & n.POLLIN).toBe(n.POLLIN);
  });

  it("rejects bad arguments with TypeError/RangeError", () => {
    expect(() => n.eventfd(-1)).toThrow(RangeError);
    expect(() => n.eventfdWrite(1.5, 1)).toThrow(TypeError);
    expect(() => n.eventfdRead(1 << 30)).toThrow(expect.objectContaining({ code: "EBADF" }));
  });

  it("eventfdKick (the lcore's kick) adds the value and returns 0; errors are returned as errno, never thrown", () => {
    const fd = n.eventfd(0);
    fds.push(fd);
    expect(n.eventfdKick(fd, 1)).toBe(0);
    expect(n.eventfdKick(fd, 0)).toBe(0); // adds nothing
    expect(n.eventfdKick(fd, 2)).toBe(0);
    expect(n.eventfdRead(fd)).toBe(3);
    const EBADF = 9;
    const EINVAL = 22;
    const EAGAIN = 11;
    expect(n.eventfdKick(-1, 1)).toBe(EBADF); // the priming's no-op target (virtio-pmd queue-base.ts)
    expect(n.eventfdKick(1 << 30, 1)).toBe(EBADF);
    expect(n.eventfdKick(1.5, 1)).toBe(EBADF);
    expect(n.eventfdKick(fd, -1)).toBe(EINVAL);
    expect(n.eventfdKick(fd, 2 ** 32)).toBe(EINVAL);
    expect(n.eventfdRead(fd)).toBe(0);
    // A full counter (2^64 - 2): EAGAIN on the non-blocking eventfd, as eventfdWrite's false.
    let ok = 0;
    while (ok < 5000 && n.eventfdWrite(fd, Number.MAX_SAFE_INTEGER)) ok++;
    expect(n.eventfdKick(fd, 0xffffffff)).toBe(EAGAIN);
  });
});

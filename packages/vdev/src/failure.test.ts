import { TpdkError } from "@tpdk/eal";
import { describe, expect, it } from "vitest";
import { deviceFailureText, explainFailure } from "./failure.js";

describe("deviceFailureText", () => {
  it("names the thread or the one device that failed, without Vhost's prefix", () => {
    expect(deviceFailureText(new TpdkError("EDEVICE", "vhost: device thread failed: boom"))).toBe("device thread failed: boom");
    expect(deviceFailureText(new TpdkError("EDEVICE", "vhost: device thread exited unexpectedly (code 1)"))).toBe("device thread exited unexpectedly (code 1)");
    expect(deviceFailureText(new TpdkError("EDEVICE", "vhost: virtio1: wire broke"))).toBe("device failed: virtio1: wire broke");
    // A worker 'error' event (not Vhost's wording) is the thread's failure.
    expect(deviceFailureText(new Error("out of memory"))).toBe("device thread failed: out of memory");
    expect(deviceFailureText("odd")).toBe("device thread failed: odd");
  });
});

describe("explainFailure", () => {
  const timeout = new TpdkError("ETIMEDOUT", "virtio0: device not answering");

  it("keeps the error when the thread reported nothing", async () => {
    expect(await explainFailure({}, timeout)).toBe(timeout);
  });

  it("names a failure already reported, with its code", async () => {
    const e = (await explainFailure({ error: new TpdkError("EIO", "vhost: device thread failed: disk") }, timeout)) as TpdkError;
    expect(e).toBeInstanceOf(TpdkError);
    expect(e.code).toBe("EIO");
    expect(e.message).toBe("device thread failed: disk");
  });

  it("waits for a report still queued", async () => {
    const f: { error?: Error } = {};
    setImmediate(() => (f.error = new Error("vhost: device thread failed: late")));
    const e = (await explainFailure(f, timeout)) as TpdkError;
    expect(e.message).toBe("device thread failed: late");
    expect(e.code).toBe("EDEVICE");
  });
});

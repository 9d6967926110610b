import { describe, expect, it } from "vitest";
import { usageErrorMessage } from "@tpdk/testing/eal";
import {
  assertNoUnknownKeys, parseDevargs, takeBool, takeInt, takeIntList, takeList, takeMac, takeString,
} from "./devargs.js";

describe("parseDevargs", () => {
  it("splits name, driver, index and keys in order", () => {
    const d = parseDevargs("virtio0,wire=gen,size=64,flows=4");
    expect(d.name).toBe("virtio0");
    expect(d.driver).toBe("virtio");
    expect(d.index).toBe(0);
    expect([...d.args]).toEqual([["wire", "gen"], ["size", "64"], ["flows", "4"]]);
    const e = parseDevargs("net_tap12");
    expect(e).toMatchObject({ name: "net_tap12", driver: "net_tap", index: 12 });
    expect(e.args.size).toBe(0);
  });
  it("rejects malformed strings naming the vdev", () => {
    expect(usageErrorMessage(() => parseDevargs(""))).toMatch(/^--vdev: empty/);
    expect(usageErrorMessage(() => parseDevargs("virtio,wire=gen"))).toMatch(/device name "virtio" must be letters then an index/);
    expect(usageErrorMessage(() => parseDevargs("virtio0,size=64,512"))).toMatch(/^virtio0: "512" is not key=value; .*size=64:512:1518/);
    expect(usageErrorMessage(() => parseDevargs("virtio0,=3"))).toMatch(/^virtio0: empty key/);
    expect(usageErrorMessage(() => parseDevargs("virtio0,size="))).toMatch(/^virtio0: key 'size' has an empty value/);
    expect(usageErrorMessage(() => parseDevargs("virtio0,size=1,size=2"))).toMatch(/^virtio0: duplicate key 'size'/);
    expect(usageErrorMessage(() => parseDevargs("virtio0,"))).toMatch(/^virtio0: "" is not key=value/);
  });
});

describe("take* helpers", () => {
  it("read typed values and defaults", () => {
    const { args } = parseDevargs("virtio1,size=64:512:1518,flows=0x10,csum=1,wire=gen,mac=02:00:00:00:00:0a,tags=a:b");
    expect(takeIntList(args, "size", { min: 60, max: 9000 })).toEqual([64, 512, 1518]);
    expect(takeInt(args, "flows", { min: 1, max: 1024 })).toBe(16);
    expect(takeInt(args, "burst", { min: 1, max: 512, default: 32 })).toBe(32);
    expect(takeBool(args, "csum")).toBe(true);
    expect(takeBool(args, "promisc", { default: false })).toBe(false);
    expect(takeString(args, "wire", { choices: ["gen", "sink"] })).toBe("gen");
    expect([...takeMac(args, "mac")]).toEqual([2, 0, 0, 0, 0, 10]);
    expect(takeList(args, "tags")).toEqual(["a", "b"]);
    expect(() => assertNoUnknownKeys(args, "virtio1")).not.toThrow();
  });
  it("report bad values naming vdev and key", () => {
    const { args } = parseDevargs("virtio0,size=abc,flows=0,csum=yes,wire=foo,mac=zz,list=a::b,sizes=64:x");
    expect(usageErrorMessage(() => takeInt(args, "size"))).toBe("virtio0: size=abc is not a whole number");
    expect(usageErrorMessage(() => takeInt(args, "flows", { min: 1, max: 8 }))).toBe("virtio0: flows=0 is out of range 1..8");
    expect(usageErrorMessage(() => takeBool(args, "csum"))).toBe("virtio0: csum=yes must be 0 or 1");
    expect(usageErrorMessage(() => takeString(args, "wire", { choices: ["gen", "sink"] }))).toBe("virtio0: wire=foo is not one of gen, sink");
    expect(usageErrorMessage(() => takeMac(args, "mac"))).toMatch(/^virtio0: mac=zz is not a MAC address/);
    expect(usageErrorMessage(() => takeList(args, "list"))).toMatch(/^virtio0: list=a::b has an empty list item/);
    expect(usageErrorMessage(() => takeIntList(args, "sizes"))).toMatch(/^virtio0: sizes item x is not a whole number/);
    expect(usageErrorMessage(() => takeInt(args, "queues"))).toBe("virtio0: missing required key 'queues'");
  });
  it("assertNoUnknownKeys lists the known keys", () => {
    const { args } = parseDevargs("virtio0,wire=gen,sizee=64");
    takeString(args, "wire");
    takeInt(args, "size", { default: 64 });
    takeInt(args, "flows", { default: 1 });
    expect(usageErrorMessage(() => assertNoUnknownKeys(args, "virtio0"))).toBe(
      "virtio0: unknown key 'sizee'; known keys: flows, size, wire",
    );
    // A hand-made Map works too (name from the caller).
    const m = new Map([["x", "1"]]);
    expect(usageErrorMessage(() => assertNoUnknownKeys(m, "dev7"))).toBe("dev7: unknown key 'x'; known keys: (none)");
  });
});

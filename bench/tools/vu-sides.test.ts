import { describe, expect, it } from "vitest";
import { parseSide } from "./vu-sides.js";

describe("vu-shared --sides", () => {
  it("takes dpdk, a worktree, and a worktree with front-end keys", () => {
    expect(parseSide("dpdk")).toEqual({ name: "dpdk", kind: "dpdk", dir: "", keys: "" });
    expect(parseSide("/work/main")).toEqual({ name: "/work/main", kind: "tpdk", dir: "/work/main", keys: "" });
    expect(parseSide("/w/b:tx_mode=indirect:queue_size=512")).toEqual({
      name: "/w/b:tx_mode=indirect:queue_size=512",
      kind: "tpdk",
      dir: "/w/b",
      keys: "tx_mode=indirect,queue_size=512",
    });
    // mrg_rxbuf replaces the common key (bench/dpdk/commands.ts withSideKeys): a lab measure of the
    // header line without MRG_RXBUF (bench README "Session 24: split burst 32").
    expect(parseSide("/w/b:mrg_rxbuf=0").keys).toBe("mrg_rxbuf=0");
  });
  it("refuses unknown keys, bad values, repeats and a missing worktree with one line", () => {
    for (const bad of ["/w:tx_mode=fast", "/w:in_order=0", "/w:tx_mode", "/w:tx_mode=push:tx_mode=push", ":tx_mode=push", "/w:queue_size=0", "/w:mrg_rxbuf=2"]) {
      expect(() => parseSide(bad)).toThrow(/^vu-shared: option --sides: .*e\.g\. /);
    }
  });
});

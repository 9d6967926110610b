import { describe, expect, it } from "vitest";
import { keepStem, parseSide } from "./vu-sides.js";

describe("vu-shared --sides", () => {
  it("takes dpdk, a worktree, and a worktree with front-end keys", () => {
    expect(parseSide("dpdk")).toEqual({ name: "dpdk", kind: "dpdk", dir: "", keys: "", node: "" });
    expect(parseSide("/work/main")).toEqual({ name: "/work/main", kind: "tpdk", dir: "/work/main", keys: "", node: "" });
    expect(parseSide("/w/b:tx_mode=indirect:queue_size=512")).toEqual({
      name: "/w/b:tx_mode=indirect:queue_size=512",
      kind: "tpdk",
      dir: "/w/b",
      keys: "tx_mode=indirect,queue_size=512",
      node: "",
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
  it("takes node=PATH, an executable file, as the side's node binary, apart from the vdev keys", () => {
    const node = process.execPath;
    expect(parseSide(`/w/n26:node=${node}`)).toEqual({ name: `/w/n26:node=${node}`, kind: "tpdk", dir: "/w/n26", keys: "", node });
    expect(parseSide(`/w/n26:tx_mode=push:node=${node}:event_idx=0`)).toMatchObject({ keys: "tx_mode=push,event_idx=0", node });
  });
  it("refuses a node= that is relative, missing, not a file or not executable, or given twice, with one line", () => {
    const cases: [string, RegExp][] = [
      ["/w:node=node", /node=node in '\/w:node=node' is not an absolute path; /],
      ["/w:node=/nonexistent/bin/node", /does not exist; /],
      ["/w:node=/tmp", /is not a file; /],
      [`/w:node=${import.meta.filename}`, /is not executable; /],
      [`/w:node=${process.execPath}:node=${process.execPath}`, /is not one of .*node with a valid value \(once each\)/],
      ["/w:node=", /node= in .* is not an absolute path; /],
    ];
    for (const [bad, why] of cases) expect(() => parseSide(bad)).toThrow(why);
    for (const [bad] of cases) expect(() => parseSide(bad)).toThrow(/^vu-shared: option --sides: .*e\.g\. /);
  });
  it("names --keep files by the worktree's last folder and the side's keys", () => {
    expect(keepStem(parseSide("/work/main"))).toBe("main");
    expect(keepStem(parseSide("/work/main:tx_mode=indirect"))).toBe("main:tx_mode=indirect");
    expect(keepStem(parseSide(`/work/wt-n26:node=${process.execPath}`))).toBe(`wt-n26:node=${process.execPath.replace(/\//g, "_")}`);
  });
});

import { describe, expect, it } from "vitest";
import { FRONT_END_KEYS, FRONT_END_KEYS_PACKED, type PairOptions, backEndCommand, forwarderBackEndCommand, frontEndCommand, generatorCommand, isNodeProgram } from "./commands.js";

const opts = (hugepages: boolean): PairOptions => ({ burst: 1, hugepages, testpmd: "dpdk-testpmd", l2fwd: ["node", "main.js"], tag: "42" });
const after = (argv: string[], opt: string): string | undefined => argv[argv.indexOf(opt) + 1];

describe("vhost-user pair command lines", () => {
  it("without hugepages: --no-huge and never --in-memory (DPDK 22.11 refuses the pair), a file prefix per testpmd", () => {
    const o = opts(false);
    const cmds = [backEndCommand(o, "/s"), frontEndCommand("dpdk", o, "/s")];
    for (const c of cmds) {
      expect(c).toContain("--no-huge");
      expect(c).not.toContain("--in-memory");
    }
    expect(after(cmds[0]!, "--file-prefix")).not.toBe(after(cmds[1]!, "--file-prefix"));
    const l2fwd = frontEndCommand("tpdk", o, "/s");
    expect(l2fwd).toContain("--no-huge");
  });

  it("with hugepages: --in-memory for testpmd, and no --no-huge anywhere", () => {
    const o = opts(true);
    expect(backEndCommand(o, "/s")).toContain("--in-memory");
    expect(frontEndCommand("dpdk", o, "/s")).toContain("--in-memory");
    for (const c of [backEndCommand(o, "/s"), frontEndCommand("dpdk", o, "/s"), frontEndCommand("tpdk", o, "/s")]) expect(c).not.toContain("--no-huge");
  });

  it("back-end forwards on CPU 1, both front-ends on CPU 0, with the same vdev keys and burst", () => {
    const o = opts(false);
    const back = backEndCommand(o, "/s");
    expect(after(back, "-l")).toBe("0,1");
    expect(after(back, "--main-lcore")).toBe("0");
    expect(after(back, "--vdev")).toBe("net_vhost0,iface=/s,queues=1");
    expect(back).toContain("--forward-mode=flowgen");
    expect(back).toContain("--burst=1");
    const dpdk = frontEndCommand("dpdk", o, "/s");
    expect(after(dpdk, "--main-lcore")).toBe("1");
    expect(after(dpdk, "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS}`);
    expect(dpdk).toContain("--burst=1");
    const tpdk = frontEndCommand("tpdk", o, "/s");
    expect(tpdk.slice(0, 2)).toEqual(["node", "main.js"]);
    expect(after(tpdk, "-l")).toBe("0");
    expect(tpdk).toContain("--busy-poll");
    expect(after(tpdk, "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS}`);
    expect(tpdk.slice(tpdk.indexOf("--"))).toEqual(["--", "-p", "0x1", "-T", "0", "--burst=1"]);
  });

  it("net-vhost roles: DPDK's flowgen front-end on CPU 1 at generatorBurst, either back-end forwarding on CPU 0 at the burst compared", () => {
    const o = { ...opts(false), generatorBurst: 32 };
    const gen = generatorCommand(o, "/s");
    expect(after(gen, "--main-lcore")).toBe("0");
    expect(after(gen, "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS}`);
    expect(gen).toContain("--forward-mode=flowgen");
    expect(gen).toContain("--burst=32");
    const dpdk = forwarderBackEndCommand("dpdk", o, "/s");
    expect(after(dpdk, "--main-lcore")).toBe("1");
    expect(after(dpdk, "--vdev")).toBe("net_vhost0,iface=/s,queues=1");
    expect(dpdk).toContain("--forward-mode=mac");
    expect(dpdk).toContain("--port-topology=loop");
    expect(dpdk).toContain("--burst=1");
    expect(after(gen, "--file-prefix")).not.toBe(after(dpdk, "--file-prefix"));
    const tpdk = forwarderBackEndCommand("tpdk", o, "/s");
    expect(tpdk.slice(0, 2)).toEqual(["node", "main.js"]);
    expect(after(tpdk, "-l")).toBe("0");
    expect(tpdk).toContain("--busy-poll");
    expect(after(tpdk, "--vdev")).toBe("net_vhost0,iface=/s,queues=1");
    expect(tpdk.slice(tpdk.indexOf("--"))).toEqual(["--", "-p", "0x1", "-T", "0", "--burst=1"]);
  });

  it("tpdkKeys (vu-shared's DIR:key=value sides): appended to tpdk's front-end keys only", () => {
    const o = { ...opts(false), tpdkKeys: "tx_mode=indirect,queue_size=512" };
    expect(after(frontEndCommand("tpdk", o, "/s"), "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS},tx_mode=indirect,queue_size=512`);
    expect(after(frontEndCommand("dpdk", o, "/s"), "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS}`);
    expect(after(frontEndCommand("tpdk", { ...o, tpdkKeys: "" }, "/s"), "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS}`);
  });

  it("tpdkKeys: a side key the common keys also set replaces it (tpdk's devargs refuse a repeated key)", () => {
    const o = { ...opts(false), tpdkKeys: "mrg_rxbuf=0,tx_mode=push" };
    expect(after(frontEndCommand("tpdk", o, "/s"), "--vdev")).toBe("net_virtio_user0,path=/s,queues=1,packed_vq=0,in_order=1,mrg_rxbuf=0,tx_mode=push");
    expect(after(frontEndCommand("dpdk", o, "/s"), "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS}`);
  });

  it("packed: both front-ends get packed_vq=1, the back-end's command is the same", () => {
    const o = { ...opts(false), packed: true };
    expect(backEndCommand(o, "/s")).toEqual(backEndCommand(opts(false), "/s"));
    expect(after(frontEndCommand("dpdk", o, "/s"), "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS_PACKED}`);
    expect(after(frontEndCommand("tpdk", o, "/s"), "--vdev")).toBe(`net_virtio_user0,path=/s,${FRONT_END_KEYS_PACKED}`);
    expect(FRONT_END_KEYS_PACKED).toContain("packed_vq=1");
  });

  it("backEndBurst keeps the back-end's burst whatever the front-end's", () => {
    const o = { ...opts(false), backEndBurst: 32 };
    expect(backEndCommand(o, "/s")).toContain("--burst=32");
    expect(frontEndCommand("dpdk", o, "/s")).toContain("--burst=1");
    expect(frontEndCommand("tpdk", o, "/s")).toContain("--burst=1");
  });

  it("a node program takes the GC probe: node, a node binary elsewhere, or a wrapper named node-* (vu-shared's node=PATH)", () => {
    for (const p of ["node", "/usr/bin/node", "/root/.cache/tpdk/node/node-v26.12.1/bin/node", "/work/coord/lab/node-inl4000", "nodejs"]) expect(isNodeProgram(p), p).toBe(true);
    for (const p of ["dpdk-testpmd", "/usr/bin/dpdk-testpmd", "/opt/node-26/bin/deno", "/work/node/wrapper.sh"]) expect(isNodeProgram(p), p).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { planVdevs } from "./plan.js";

describe("planVdevs: net_vhost", () => {
  it("takes DPDK's keys (eth_vhost accepted) and defaults to one pair, server", () => {
    const [a, b] = planVdevs(["net_vhost0,iface=/tmp/a.sock", "eth_vhost1,iface=/tmp/b.sock,queues=2,client=1,sealed=1"]);
    expect(a).toMatchObject({ kind: "net_vhost", portId: 0, name: "net_vhost0", vhost: { iface: "/tmp/a.sock", queues: 1, client: false, sealed: false } });
    expect(b).toMatchObject({ kind: "net_vhost", portId: 1, vhost: { queues: 2, client: true, sealed: true } });
  });

  it("names the key and the fix for bad input", () => {
    expect(() => planVdevs(["net_vhost0"])).toThrow(/net_vhost0: iface= is required/);
    expect(() => planVdevs(["net_vhost0,iface=/tmp/a,queues=17"])).toThrow(/queues/);
    expect(() => planVdevs(["net_vhost0,iface=/tmp/a,path=/x"])).toThrow(/path/);
    expect(() => planVdevs(["net_vhost0,iface=/tmp/a", "net_vhost1,iface=/tmp/a"])).toThrow(/net_vhost1: iface=\/tmp\/a is also net_vhost0's/);
  });

  it("keeps loop ports before it, as for net_virtio_user", () => {
    expect(() => planVdevs(["virtio0,wire=loop,peer=2", "net_vhost1,iface=/tmp/a", "virtio2,wire=loop,peer=0"])).toThrow(/move those --vdev last/);
  });
});

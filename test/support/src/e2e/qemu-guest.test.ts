import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ownedTempDir } from "./owned.js";
import { inLoadOrder } from "./qemu-guest.js";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

/** A stand-in .ko: some bytes, then a .modinfo-like run of NUL-terminated key=value strings. */
function ko(name: string, depends: string): string {
  if (!dir) dir = ownedTempDir("ko");
  const p = join(dir, `${name}.ko`);
  writeFileSync(p, Buffer.from(`\x7fELF...\0license=GPL\0depends=${depends}\0name=${name}\0vermagic=6.1.0 SMP\0`, "latin1"));
  return p;
}

const names = (paths: string[]): string[] => paths.map((p) => p.slice(p.lastIndexOf("/") + 1, -3));

describe("inLoadOrder (the guest's insmod order)", () => {
  it("puts each module after the ones its depends= names (Debian 6.1.0-57: virtio needs virtio_ring)", () => {
    const list = [
      ko("virtio", "virtio_ring"), ko("virtio_ring", ""), ko("virtio_pci_legacy_dev", ""), ko("virtio_pci_modern_dev", ""),
      ko("virtio_pci", "virtio_ring,virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio"), ko("failover", ""),
      ko("net_failover", "failover"), ko("virtio_net", "net_failover,virtio_ring,virtio"),
    ];
    const order = names(inLoadOrder(list));
    expect(order).toHaveLength(list.length);
    const at = (n: string): number => order.indexOf(n);
    expect(at("virtio_ring")).toBeLessThan(at("virtio"));
    expect(at("virtio")).toBeLessThan(at("virtio_pci"));
    expect(at("virtio_pci_modern_dev")).toBeLessThan(at("virtio_pci"));
    expect(at("failover")).toBeLessThan(at("net_failover"));
    expect(at("net_failover")).toBeLessThan(at("virtio_net"));
  });

  it("keeps the given order where nothing depends, ignores dependencies outside the list, names a cycle", () => {
    expect(names(inLoadOrder([ko("a", ""), ko("b", "builtin_thing"), ko("c", "")]))).toEqual(["a", "b", "c"]);
    expect(() => inLoadOrder([ko("x", "y"), ko("y", "x")])).toThrow(/cycle through x/);
  });
});

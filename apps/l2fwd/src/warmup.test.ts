import { describe, expect, it } from "vitest";
import { planVdevs } from "@tpdk/vdev";
import { RATE_MAX } from "@tpdk/vhost";
import { WARMUP_MIN_RATE, mirrorVdev, planWarmup } from "./warmup.js";

describe("l2fwd warm-up plan", () => {
  it("mirrors gen and sink ports: same keys, a count, the user's rate (at least WARMUP_MIN_RATE), no mac=", () => {
    expect(mirrorVdev("virtio0,wire=gen,rate=2M,count=6M,queue_size=4096,mac=02:00:00:00:00:09", "virtio5", 1000, 2e6)).toBe(
      "virtio5,wire=gen,queue_size=1024,rate=2000000,count=1000",
    );
    expect(mirrorVdev("virtio0,wire=gen,rate=10k", "virtio5", 1000, 1e4)).toBe(`virtio5,wire=gen,rate=${WARMUP_MIN_RATE},count=1000`);
    expect(mirrorVdev("virtio0,wire=gen,size=64:512", "virtio5", 1000, null)).toBe("virtio5,wire=gen,size=64:512,count=1000");
    expect(mirrorVdev("virtio1,wire=sink,check=1,tx_mode=chained", "virtio6", null, null)).toBe("virtio6,wire=sink,check=1,tx_mode=chained");
  });

  it("pnpm demo's ports: three launches of mirrors (overloaded, then twice at the user's rate, ending idle), same pairing and lcore", () => {
    const plans = planVdevs(["virtio0,wire=gen,rate=2M,count=6M", "virtio1,wire=sink,check=1"]);
    const w = planWarmup(plans, [0, 1], [1, 0], new Map([[0, [0, 1]]]), 2, 5000);
    expect(w.mirrored).toBe(true);
    expect(w.firstPort).toBe(2);
    expect(w.vdevs).toEqual([
      `virtio2,wire=gen,rate=${RATE_MAX},count=5000`, "virtio3,wire=sink,check=1",
      "virtio4,wire=gen,rate=2000000,count=5000", "virtio5,wire=sink,check=1",
      "virtio6,wire=gen,rate=2000000,count=5000", "virtio7,wire=sink,check=1",
    ]);
    expect(w.dst.slice(2)).toEqual([3, 2, 5, 4, 7, 6]);
    expect(w.phases).toEqual([
      { ports: [2, 3], lcorePorts: new Map([[0, [2, 3]]]), gens: [2], idleAfter: false },
      { ports: [4, 5], lcorePorts: new Map([[0, [4, 5]]]), gens: [4], idleAfter: true },
      { ports: [6, 7], lcorePorts: new Map([[0, [6, 7]]]), gens: [6], idleAfter: true },
    ]);
    // The mirrors are valid --vdev strings.
    expect(() => planVdevs(w.vdevs)).not.toThrow();
  });

  it("other wires: a pair of unpaced generators per forwarding lcore", () => {
    const plans = planVdevs(["virtio0,wire=gen,rate=1M", "virtio1,wire=loop,peer=2", "virtio2,wire=loop,peer=1", "virtio3,wire=sink"]);
    const w = planWarmup(plans, [0, 1, 2, 3], [1, 0, 3, 2], new Map([[0, [0, 1]], [1, [2, 3]]]), 4, 100);
    expect(w.mirrored).toBe(false);
    expect(w.vdevs).toEqual([
      "virtio4,wire=gen,count=100,queue_size=256", "virtio5,wire=gen,count=100,queue_size=256",
      "virtio6,wire=gen,count=100,queue_size=256", "virtio7,wire=gen,count=100,queue_size=256",
    ]);
    expect(w.phases).toHaveLength(1);
    expect(w.phases[0]!.lcorePorts).toEqual(new Map([[0, [4, 5]], [1, [6, 7]]]));
    expect(w.dst.slice(4)).toEqual([5, 4, 7, 6]);
  });
});

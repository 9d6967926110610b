import { EAL_USAGE } from "@tpdk/eal";
import { vdevKindsUsage } from "@tpdk/vdev";
import { L2FWD_USAGE } from "./options.js";

/** The whole `l2fwd --help` text: EAL options, l2fwd's, and the --vdev kinds this build knows. */
export function l2fwdUsage(): string {
  return `usage: l2fwd [EAL options] -- -p PORTMASK [l2fwd options]
       pnpm l2fwd -- [EAL options] -- -p PORTMASK [l2fwd options]

DPDK's l2fwd: receives on each enabled port, rewrites the Ethernet addresses and sends
out of the paired port. Ports are --vdev devices, numbered in the order given.

${EAL_USAGE}

${L2FWD_USAGE}

--vdev kinds:
${vdevKindsUsage("  ")}

example: l2fwd -l 0 --vdev virtio0,wire=gen,rate=1M --vdev virtio1,wire=sink -- -p 0x3 -q 2 -T 1`;
}

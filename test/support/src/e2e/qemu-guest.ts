// A Linux guest in QEMU (TCG) whose virtio-net device is a vhost-user
// front-end: Debian's kernel extracted from its package (/boot untouched),
// a busybox initramfs written here (newc cpio, gzip), guest memory on a
// sealed memfd shared with the back-end. The guest runs one script and
// prints to the serial console, which the test reads.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ownedChild } from "./owned.js";
import { which } from "./which.js";

const QEMU = "qemu-system-x86_64";
/** The kernel package's cache (CI: apt-get install --download-only linux-image-cloud-amd64). */
const APT_ARCHIVES = "/var/cache/apt/archives";
/** The modules Linux's virtio_net needs on Debian's cloud kernel (loaded in the order their `depends=` give: inLoadOrder). */
const MODULES = [
  "drivers/virtio/virtio.ko", "drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio_pci_legacy_dev.ko",
  "drivers/virtio/virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci.ko", "net/core/failover.ko",
  "drivers/net/net_failover.ko", "drivers/net/virtio_net.ko",
];

/** A Debian kernel package: TPDK_GUEST_KERNEL_DEB, else the newest linux-image-*-cloud-amd64 in apt's cache. */
export function kernelDeb(): string | null {
  const env = process.env.TPDK_GUEST_KERNEL_DEB;
  if (env) return existsSync(env) ? env : null;
  if (!existsSync(APT_ARCHIVES)) return null;
  // Numeric order: 6.1.0-100 is newer than 6.1.0-57.
  const debs = readdirSync(APT_ARCHIVES)
    .filter((f) => /^linux-image-\d.*-cloud-amd64_.*_amd64\.deb$/.test(f))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return debs.length > 0 ? join(APT_ARCHIVES, debs[debs.length - 1]!) : null;
}

/** null when a guest can run here, else the reason a test skips. */
export function qemuGuestMissing(): string | null {
  if (!which(QEMU)) return `${QEMU} not found (Debian: apt-get install qemu-system-x86)`;
  const bb = which("busybox");
  if (!bb) return "busybox not found (Debian: apt-get install busybox-static)";
  // The initramfs has no libraries: a dynamically linked busybox cannot run there.
  if (readFileSync(bb).includes("/lib64/ld-linux")) return `${bb} is dynamically linked (Debian: apt-get install busybox-static)`;
  if (!which("dpkg-deb")) return "dpkg-deb not found";
  if (!kernelDeb()) return `no Debian kernel package in ${APT_ARCHIVES} (apt-get install --download-only linux-image-cloud-amd64, or set TPDK_GUEST_KERNEL_DEB)`;
  return null;
}

/** Extract the kernel and the virtio-net modules from the package into `dir` (only those files). */
export function extractKernel(dir: string): { kernel: string; modules: string[] } {
  const deb = kernelDeb()!;
  const out = join(dir, "kpkg");
  mkdirSync(out, { recursive: true });
  execFileSync("sh", ["-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*' ${MODULES.map((m) => `'*/kernel/${m}'`).join(" ")}`, "sh", deb, out], { stdio: "ignore", timeout: 60_000 });
  const boot = join(out, "boot");
  const kernel = join(boot, readdirSync(boot).find((f) => f.startsWith("vmlinuz-"))!);
  const release = readdirSync(join(out, "lib", "modules"))[0]!;
  const modules = inLoadOrder(MODULES.map((m) => join(out, "lib", "modules", release, "kernel", m)));
  return { kernel, modules };
}

/** A module's name: its file name without .ko (what `depends=` lists). */
const moduleName = (path: string): string => path.slice(path.lastIndexOf("/") + 1, -".ko".length);

/**
 * The modules ordered so that each comes after those its `.modinfo` `depends=` names (busybox's
 * insmod loads one file and resolves nothing). The order changes between kernel builds: from
 * Debian's 6.1.0-57 on, virtio.ko depends on virtio_ring.ko, which 6.1.0-53 loaded after it.
 * A dependency outside the list is left to the kernel (built in, or insmod says what is missing).
 */
export function inLoadOrder(paths: readonly string[]): string[] {
  const byName = new Map(paths.map((p) => [moduleName(p), p]));
  const deps = (p: string): string[] => {
    const bytes = readFileSync(p);
    const at = bytes.indexOf("\0depends=");
    if (at < 0) return [];
    const from = at + "\0depends=".length;
    const list = bytes.subarray(from, bytes.indexOf(0, from)).toString("latin1");
    return list === "" ? [] : list.split(",");
  };
  const ordered: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (p: string): void => {
    const name = moduleName(p);
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new Error(`kernel modules: a dependency cycle through ${name}`);
    state.set(name, "visiting");
    for (const d of deps(p)) {
      const dp = byName.get(d);
      if (dp !== undefined) visit(dp);
    }
    state.set(name, "done");
    ordered.push(p);
  };
  for (const p of paths) visit(p);
  return ordered;
}

interface CpioEntry {
  name: string;
  mode: number;
  data?: Uint8Array;
}

/** A gzipped newc cpio archive (what the kernel unpacks as its initramfs). */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const add = (name: string, mode: number, data: Uint8Array): void => {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
    const hdr = Buffer.from(`070701${fields.map((v) => v.toString(16).padStart(8, "0")).join("")}`);
    parts.push(hdr, nameBuf, pad(hdr.length + nameBuf.length), Buffer.from(data), pad(data.length));
  };
  for (const e of entries) add(e.name, e.mode, e.data ?? new Uint8Array(0));
  add("TRAILER!!!", 0, new Uint8Array(0));
  return gzipSync(Buffer.concat(parts));
}

/** An initramfs: static busybox, the modules, and /init running `script` after loading them. */
export function buildInitramfs(path: string, modules: readonly string[], script: string): void {
  const names = modules.map((m) => m.slice(m.lastIndexOf("/") + 1));
  const init = [
    "#!/bin/busybox sh",
    "/bin/busybox --install -s /bin",
    "mount -t proc proc /proc",
    "mount -t sysfs sys /sys",
    ...names.map((n) => `insmod /mod/${n}`),
    script,
    "poweroff -f",
  ].join("\n");
  const dir = (name: string): CpioEntry => ({ name, mode: 0o040755 });
  writeFileSync(path, newcArchive([
    dir("bin"), dir("mod"), dir("proc"), dir("sys"), dir("dev"),
    { name: "bin/busybox", mode: 0o100755, data: readFileSync(which("busybox")!) },
    ...modules.map((m, i) => ({ name: `mod/${names[i]}`, mode: 0o100644, data: readFileSync(m) })),
    { name: "init", mode: 0o100755, data: Buffer.from(`${init}\n`) },
  ]));
}

/**
 * QEMU 7.2 with a vhost-user virtio-net device on `socket` (QEMU connects:
 * the back-end listens). TCG (this machine's KVM does not boot a stock
 * kernel); vectors=0 because QEMU 7.2 under TCG crashes in vhost_net_start
 * with MSI-X, so the guest uses INTx. Guest memory: a memfd QEMU seals.
 */
export class QemuGuest {
  private readonly child: ChildProcess;
  console = "";
  readonly exited: Promise<number | null>;

  /** `packed`: the virtio-net-pci device offers packed virtqueues (QEMU's `packed=on`, virtio 1.2 §2.8). */
  constructor(o: { kernel: string; initrd: string; socket: string; mac: string; cpu: number; timeoutMs: number; packed?: boolean }) {
    const args = [
      "-c", String(o.cpu), QEMU, "-machine", "q35,accel=tcg", "-cpu", "max", "-m", "256M", "-smp", "1",
      "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-machine", "memory-backend=mem",
      "-kernel", o.kernel, "-initrd", o.initrd, "-append", "console=ttyS0 quiet panic=-1",
      "-nographic", "-no-reboot", "-monitor", "none",
      "-chardev", `socket,id=c0,path=${o.socket}`, "-netdev", "vhost-user,id=n0,chardev=c0",
      "-device", `virtio-net-pci,netdev=n0,mac=${o.mac},romfile=,vectors=0${o.packed ? ",packed=on" : ""}`,
    ];
    this.child = ownedChild(spawn("taskset", args, { stdio: ["ignore", "pipe", "pipe"] }));
    this.child.stdout!.on("data", (d) => (this.console += d));
    this.child.stderr!.on("data", (d) => (this.console += d));
    const timer = setTimeout(() => this.child.kill("SIGKILL"), o.timeoutMs);
    this.exited = new Promise((resolve) => this.child.on("close", (code) => {
      clearTimeout(timer);
      resolve(code);
    }));
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}

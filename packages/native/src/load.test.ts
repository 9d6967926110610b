import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
// @tpdk/testing depends on this package, so it is not a dependency here: its owned.ts by path
// (what a killed run leaves is removed; test/support/README.md "Cleanup: what a test starts outside its process").
import { ownedTempDir, runOwned } from "../../../test/support/src/e2e/owned.js";

const DIST = new URL("../dist/index.js", import.meta.url);

/** Run a snippet that imports the compiled loader in a fresh process. */
function run(env: Record<string, string>, body: string, dist: URL = DIST) {
  const code = `import(${JSON.stringify(dist.href)}).then((m) => { ${body} });`;
  const base = { ...process.env };
  delete base.TPDK_NATIVE_BUILD_DIR; // each case says where builds are (test/native-nodes.test.ts runs this file with one set)
  return runOwned(process.execPath, ["-e", code], { env: { ...base, ...env }, timeoutMs: 20_000 });
}

const ABI_DIR = `node-v${process.versions.modules}`;

describe.skipIf(!existsSync(DIST))("the loader when the addon is missing (skipped: dist/ not built; run pnpm build)", () => {
  it("TPDK_NATIVE_DISABLE=1: native is null with a one-line reason; requireNative throws ENOTSUP naming the rebuild command", async () => {
    const r = await run(
      { TPDK_NATIVE_DISABLE: "1" },
      `console.log(JSON.stringify({ n: m.native, why: m.nativeMissingReason }));
       try { m.requireNative("vhost-user port net_virtio_user0"); } catch (e) { console.log(JSON.stringify({ code: e.code, name: e.name, msg: e.message })); }`,
    );
    expect(r.stderr).toBe("");
    const [a, b] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(a).toEqual({ n: null, why: "disabled by TPDK_NATIVE_DISABLE" });
    expect(b).toEqual({
      code: "ENOTSUP",
      name: "NativeError",
      msg: "vhost-user port net_virtio_user0 needs the native addon @tpdk/native: disabled by TPDK_NATIVE_DISABLE; rebuild with: pnpm --filter @tpdk/native rebuild",
    });
  });

  it("a binary that is not there or does not load: native is null with a one-line reason (the install step's record when there is one)", async () => {
    // A copy of the package without a build: dist/index.js plus the install step's record.
    const pkg = ownedTempDir("native-pkg");
    try {
      mkdirSync(join(pkg, "dist"));
      mkdirSync(join(pkg, "build", ABI_DIR), { recursive: true });
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ type: "module" }));
      copyFileSync(fileURLToPath(DIST), join(pkg, "dist", "index.js"));
      const dist = pathToFileURL(join(pkg, "dist", "index.js"));
      const show = `console.log(JSON.stringify({ n: m.native, why: m.nativeMissingReason }));`;
      const binary = `build/${ABI_DIR}/tpdk_native.node`;
      expect(JSON.parse((await run({}, show, dist)).stdout)).toEqual({ n: null, why: `${binary} not found: not built` });
      // A build of the layout before ABI keys (what a checkout has until its next build).
      mkdirSync(join(pkg, "build", "Release"));
      writeFileSync(join(pkg, "build", "Release", "tpdk_native.node"), "an old build");
      expect(JSON.parse((await run({}, show, dist)).stdout)).toEqual({
        n: null,
        why: `${binary} not found: not built (build/Release/tpdk_native.node is from before builds were per Node ABI: rebuild)`,
      });
      writeFileSync(join(pkg, "build", ABI_DIR, "install-failed.txt"), `node-gyp build failed: g++: not found (log: packages/native/build/${ABI_DIR}/install.log)\n`);
      expect(JSON.parse((await run({}, show, dist)).stdout)).toEqual({
        n: null,
        why: `${binary} not found: at install, node-gyp build failed: g++: not found (log: packages/native/build/${ABI_DIR}/install.log)`,
      });
      // A file that is not a loadable addon (a truncated copy).
      writeFileSync(join(pkg, "build", ABI_DIR, "tpdk_native.node"), "not an ELF file");
      const broken = JSON.parse((await run({}, show, dist)).stdout) as { n: null; why: string };
      expect(broken.n).toBeNull();
      expect(broken.why).toMatch(new RegExp(`^build/${ABI_DIR}/tpdk_native\\.node does not load: .+`));
      expect(broken.why).not.toContain("\n");
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });

  it("one checkout, several Nodes: each loads build/node-v<its ABI>/; with builds for other Nodes only, the reason names them and this Node", async () => {
    const pkg = ownedTempDir("native-pkg");
    try {
      mkdirSync(join(pkg, "dist"));
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ type: "module" }));
      copyFileSync(fileURLToPath(DIST), join(pkg, "dist", "index.js"));
      const dist = pathToFileURL(join(pkg, "dist", "index.js"));
      // Builds for two other ABIs (Node 22's 127 and a made-up 1), none for this Node.
      for (const other of ["node-v127", "node-v1"].filter((d) => d !== ABI_DIR)) {
        mkdirSync(join(pkg, "build", other), { recursive: true });
        writeFileSync(join(pkg, "build", other, "tpdk_native.node"), "a build for another Node");
      }
      mkdirSync(join(pkg, "build", "Release")); // the layout before ABI keys: not read
      writeFileSync(join(pkg, "build", "Release", "tpdk_native.node"), "an old build");
      const show = `console.log(JSON.stringify({ n: m.native, why: m.nativeMissingReason, path: m.nativeBinaryPath }));`;
      const others = ["node-v1", "node-v127"].filter((d) => d !== ABI_DIR).join(", ");
      expect(JSON.parse((await run({}, show, dist)).stdout)).toEqual({
        n: null,
        why: `build/${ABI_DIR}/tpdk_native.node not found: not built for this Node (${process.version}, ABI ${process.versions.modules}; built only for ${others})`,
        path: join(pkg, "build", ABI_DIR, "tpdk_native.node"),
      });
      // TPDK_NATIVE_BUILD_DIR: builds elsewhere (scripts/build.mjs writes there with the same variable); the reason names the file.
      const elsewhere = join(pkg, "elsewhere");
      mkdirSync(join(elsewhere, ABI_DIR), { recursive: true });
      writeFileSync(join(elsewhere, ABI_DIR, "install-failed.txt"), "node-gyp build failed: make: *** [x] Error 1 (log: x)\n");
      expect(JSON.parse((await run({ TPDK_NATIVE_BUILD_DIR: elsewhere }, show, dist)).stdout)).toEqual({
        n: null,
        why: `${join(elsewhere, ABI_DIR, "tpdk_native.node")} not found: at install, node-gyp build failed: make: *** [x] Error 1 (log: x)`,
        path: join(elsewhere, ABI_DIR, "tpdk_native.node"),
      });
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });
});

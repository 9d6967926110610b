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
  return runOwned(process.execPath, ["-e", code], { env: { ...process.env, ...env }, timeoutMs: 20_000 });
}

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
    // A copy of the package without build/Release: dist/index.js plus the install step's record.
    const pkg = ownedTempDir("native-pkg");
    try {
      mkdirSync(join(pkg, "dist"));
      mkdirSync(join(pkg, "build"));
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ type: "module" }));
      copyFileSync(fileURLToPath(DIST), join(pkg, "dist", "index.js"));
      const dist = pathToFileURL(join(pkg, "dist", "index.js"));
      const show = `console.log(JSON.stringify({ n: m.native, why: m.nativeMissingReason }));`;
      expect(JSON.parse((await run({}, show, dist)).stdout)).toEqual({ n: null, why: "build/Release/tpdk_native.node not found: not built" });
      writeFileSync(join(pkg, "build", "install-failed.txt"), "node-gyp build failed: g++: not found (log: packages/native/build/install.log)\n");
      expect(JSON.parse((await run({}, show, dist)).stdout)).toEqual({
        n: null,
        why: "build/Release/tpdk_native.node not found: at install, node-gyp build failed: g++: not found (log: packages/native/build/install.log)",
      });
      // A file that is not a loadable addon (a build for another Node, a truncated copy).
      mkdirSync(join(pkg, "build", "Release"));
      writeFileSync(join(pkg, "build", "Release", "tpdk_native.node"), "not an ELF file");
      const broken = JSON.parse((await run({}, show, dist)).stdout) as { n: null; why: string };
      expect(broken.n).toBeNull();
      expect(broken.why).toMatch(/^build\/Release\/tpdk_native\.node does not load: .+/);
      expect(broken.why).not.toContain("\n");
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });
});

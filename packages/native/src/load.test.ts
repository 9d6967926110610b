import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";

const DIST = new URL("../dist/index.js", import.meta.url);

/** Run a snippet that imports the compiled loader in a fresh process. */
function run(env: Record<string, string>, body: string) {
  const code = `import(${JSON.stringify(DIST.href)}).then((m) => { ${body} });`;
  return spawnSync(process.execPath, ["-e", code], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 20_000 });
}

describe.skipIf(!existsSync(DIST))("the loader when the addon is missing (skipped: dist/ not built; run pnpm build)", () => {
  it("TPDK_NATIVE_DISABLE=1: native is null with a one-line reason; requireNative throws ENOTSUP naming the rebuild command", () => {
    const r = run(
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
});

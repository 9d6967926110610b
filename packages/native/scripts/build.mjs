#!/usr/bin/env node
// Install step of @tpdk/native: compiles the addon with node-gyp against the
// headers of the Node that runs this script, offline (--nodedir; nothing is
// downloaded), into a directory keyed by that Node's ABI
// (process.versions.modules), build/node-v<ABI>/tpdk_native.node, so one
// checkout holds builds for several Nodes (20, 22, 24, 26) and the loader
// (src/index.ts) picks the one of the Node it runs in. It never fails the
// install: on any problem it prints one line (why, and how to rebuild),
// records the reason in build/node-v<ABI>/install-failed.txt (the loader
// repeats it) and exits 0, because everything in tpdk except memfd EAL memory
// and vhost-user ports works without the addon.
//
//   node scripts/build.mjs     (pnpm install runs it; `pnpm --filter @tpdk/native rebuild` too;
//                               run it with each Node you use: it builds for the Node that runs it)
//   TPDK_NATIVE_BUILD_DIR=DIR  builds into DIR/node-v<ABI>/ instead of build/ (the loader reads the same variable)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PKG_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const ABI = process.versions.modules;
const BUILD_ROOT = process.env.TPDK_NATIVE_BUILD_DIR ? resolve(process.env.TPDK_NATIVE_BUILD_DIR) : join(PKG_DIR, "build");
const OUT_DIR = join(BUILD_ROOT, `node-v${ABI}`);
const BINARY = join(OUT_DIR, "tpdk_native.node");
const FAILED_FILE = join(OUT_DIR, "install-failed.txt");
const LOG_FILE = join(OUT_DIR, "install.log");
// node-gyp always works in ./build of its current directory: a directory of its own per ABI, whose
// binding.gyp includes the package's (gyp resolves the sources relative to the included file).
const GYP_DIR = join(OUT_DIR, "gyp");
const REBUILD = "pnpm --filter @tpdk/native rebuild";
const BUILD_TIMEOUT_MS = 5 * 60_000;

/** A path for messages: "packages/native/..." inside the package (as the repository names it), else absolute. */
const shown = (p) => (p.startsWith(`${PKG_DIR}/`) ? `packages/native/${relative(PKG_DIR, p)}` : p);

/** Directories holding include/node/node.h: the running Node's prefix first (its ABI), then npm's nodedir setting. */
function findNodedir() {
  const candidates = [process.env.TPDK_NODEDIR, dirname(dirname(process.execPath)), process.env.npm_config_nodedir];
  for (const c of candidates) {
    if (c && existsSync(join(c, "include", "node", "node.h"))) return c;
  }
  return null;
}

/** node-gyp's CLI: an explicit override, a local install, the copy npm bundles, or the one the package manager names. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.TPDK_NODE_GYP) candidates.push(process.env.TPDK_NODE_GYP);
  try {
    candidates.push(createRequire(join(PKG_DIR, "package.json")).resolve("node-gyp/bin/node-gyp.js"));
  } catch {
    // not installed locally: the usual case
  }
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const npm = join(dir, "npm");
    if (!existsSync(npm)) continue;
    try {
      // .../npm/bin/npm-cli.js -> .../npm/node_modules/node-gyp
      const npmPkg = dirname(dirname(realpathSync(npm)));
      candidates.push(join(npmPkg, "node_modules", "node-gyp", "bin", "node-gyp.js"));
    } catch {
      // a broken link: try the next one
    }
  }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  return candidates.find((c) => c.endsWith(".js") && existsSync(c)) ?? null;
}

/** The line of node-gyp's output that says what went wrong, most specific first. */
function firstCause(output) {
  const lines = output.split("\n").map((l) => l.trim());
  const kinds = [
    (l) => /(^|\s)(fatal )?error: /.test(l) && !l.startsWith("gyp"), // the compiler
    (l) => /^[A-Za-z]*Error: /.test(l), // gyp's Python, e.g. FileNotFoundError: ... 'g++'
    (l) => l.startsWith("make: ***"),
    (l) => l.startsWith("gyp ERR! stack Error"), // e.g. not found: make; Could not find any Python
  ];
  for (const k of kinds) {
    const hit = lines.find(k);
    if (hit) return hit.replace(/^gyp ERR! stack /, "").slice(0, 200);
  }
  return null;
}

function fail(why, log = "") {
  const line = log ? `${why} (log: ${shown(LOG_FILE)})` : why;
  try {
    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(FAILED_FILE, `${line}\n`);
    if (log) writeFileSync(LOG_FILE, log);
  } catch {
    // the line below still says it
  }
  console.log(
    `@tpdk/native: not built: ${line}; tpdk runs without it except memfd EAL memory and vhost-user ports; rebuild with: ${REBUILD}`,
  );
  process.exit(0);
}

/** What node-gyp left in build/ before builds were keyed by ABI (build/Release/tpdk_native.node, which no loader reads now). */
function removeOldLayout() {
  if (process.env.TPDK_NATIVE_BUILD_DIR) return; // a build elsewhere leaves the package's build/ alone
  const old = join(PKG_DIR, "build");
  for (const f of ["Release", "Makefile", "binding.Makefile", "config.gypi", "tpdk_native.target.mk", "install.log", "install-failed.txt"]) {
    rmSync(join(old, f), { recursive: true, force: true });
  }
}

function main() {
  if (process.platform !== "linux") fail(`needs Linux (this is ${process.platform})`);
  const nodedir = findNodedir();
  if (!nodedir) fail(`Node headers not found (no include/node/node.h under ${dirname(dirname(process.execPath))}; set TPDK_NODEDIR)`);
  const gyp = findNodeGyp();
  if (!gyp) fail("node-gyp not found (npm's bundled copy is missing; set TPDK_NODE_GYP to node-gyp/bin/node-gyp.js)");

  rmSync(FAILED_FILE, { force: true });
  rmSync(BINARY, { force: true }); // a failed rebuild leaves no binary (the loader says why), as before
  removeOldLayout();
  mkdirSync(GYP_DIR, { recursive: true });
  writeFileSync(join(GYP_DIR, "binding.gyp"), `${JSON.stringify({ includes: [join(PKG_DIR, "binding.gyp")] })}\n`);
  const args = [gyp, "rebuild", "--release", `--nodedir=${nodedir}`];
  const r = spawnSync(process.execPath, args, {
    cwd: GYP_DIR,
    encoding: "utf8",
    timeout: BUILD_TIMEOUT_MS,
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
  const log = `$ ${process.execPath} ${args.join(" ")}\n${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.error) fail(`node-gyp did not run: ${r.error.message}`, log);
  if (r.status !== 0) {
    fail(`node-gyp build failed: ${firstCause(`${r.stdout ?? ""}\n${r.stderr ?? ""}`) ?? `exit status ${r.status}`}`, log);
  }
  writeFileSync(LOG_FILE, log);
  // Into place by rename: a process that has the previous build loaded keeps its (unlinked) file.
  const tmp = `${BINARY}.tmp${process.pid}`;
  copyFileSync(join(GYP_DIR, "build", "Release", "tpdk_native.node"), tmp);
  renameSync(tmp, BINARY);
  try {
    const b = createRequire(import.meta.url)(BINARY);
    if (typeof b.memfdCreate !== "function") throw new Error("exports are missing memfdCreate");
  } catch (e) {
    fail(`built but does not load: ${String(e instanceof Error ? e.message : e).split("\n")[0]}`, log);
  }
  const gypVersion = (() => {
    try {
      return JSON.parse(readFileSync(join(dirname(dirname(gyp)), "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  })();
  console.log(`@tpdk/native: built ${shown(BINARY)} for Node ${process.version} (node-gyp ${gypVersion}, headers ${nodedir}/include/node)`);
}

main();

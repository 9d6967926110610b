#!/usr/bin/env node
// Install step of @tpdk/native: compiles build/Release/tpdk_native.node with
// node-gyp against the headers of the Node that runs this script, offline
// (--nodedir; nothing is downloaded). It never fails the install: on any
// problem it prints one line (why, and how to rebuild), records the reason in
// build/install-failed.txt (the loader repeats it) and exits 0, because
// everything in tpdk except memfd EAL memory and vhost-user ports works
// without the addon.
//
//   node scripts/build.mjs     (pnpm install runs it; `pnpm --filter @tpdk/native rebuild` too)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const PKG_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const BUILD_DIR = join(PKG_DIR, "build");
const BINARY = join(BUILD_DIR, "Release", "tpdk_native.node");
const FAILED_FILE = join(BUILD_DIR, "install-failed.txt");
const LOG_FILE = join(BUILD_DIR, "install.log");
const REBUILD = "pnpm --filter @tpdk/native rebuild";
const BUILD_TIMEOUT_MS = 5 * 60_000;

const rel = (p) => relative(process.cwd(), p) || p;

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
  const line = log ? `${why} (log: packages/native/build/install.log)` : why;
  try {
    mkdirSync(BUILD_DIR, { recursive: true });
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

function main() {
  if (process.platform !== "linux") fail(`needs Linux (this is ${process.platform})`);
  const nodedir = findNodedir();
  if (!nodedir) fail(`Node headers not found (no include/node/node.h under ${dirname(dirname(process.execPath))}; set TPDK_NODEDIR)`);
  const gyp = findNodeGyp();
  if (!gyp) fail("node-gyp not found (npm's bundled copy is missing; set TPDK_NODE_GYP to node-gyp/bin/node-gyp.js)");

  rmSync(FAILED_FILE, { force: true });
  const args = [gyp, "rebuild", "--release", `--nodedir=${nodedir}`];
  const r = spawnSync(process.execPath, args, {
    cwd: PKG_DIR,
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
  console.log(`@tpdk/native: built ${rel(BINARY)} (node-gyp ${gypVersion}, headers ${nodedir}/include/node)`);
}

main();

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Issue 11: no import circles. Every relative import (type-only ones too) of
// every product source file (packages/*/src, apps/*/src) is an edge; a
// strongly connected component of more than one file is a circle. Package
// level: @tpdk/* dependencies of the product packages (devDependencies are
// tests' and may point back, e.g. to @tpdk/testing).

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const IMPORT = /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
    }
  };
  for (const top of ["packages", "apps"]) {
    for (const pk of readdirSync(join(root, top))) {
      const src = join(root, top, pk, "src");
      if (existsSync(src)) walk(src);
    }
  }
  return out;
}

/** The strongly connected components of more than one node (Tarjan), each a circle. */
function circles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) found.push(c);
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("import structure (issue 11)", () => {
  it("no product source file is part of an import circle", () => {
    const files = sourceFiles();
    const known = new Set(files);
    const edges = new Map<string, string[]>();
    for (const f of files) {
      const to: string[] = [];
      for (const m of readFileSync(f, "utf8").matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]!;
        if (!spec.startsWith(".")) continue;
        const t = resolve(dirname(f), spec.replace(/\.js$/, ".ts"));
        if (known.has(t)) to.push(t);
      }
      edges.set(f, to);
    }
    expect(files.length).toBeGreaterThan(100);
    expect([...edges.values()].reduce((n, e) => n + e.length, 0)).toBeGreaterThan(200);
    expect(circles(edges).map((c) => c.map((f) => relative(root, f)).join(" <-> "))).toEqual([]);
  });

  it("the finder finds a circle when there is one", () => {
    const e = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
    expect(circles(e).map((c) => c.sort())).toEqual([["a", "b", "c"]]);
  });

  it("the product packages' dependencies form no circle", () => {
    const deps = new Map<string, string[]>();
    for (const top of ["packages", "apps"]) {
      for (const pk of readdirSync(join(root, top))) {
        const pj = join(root, top, pk, "package.json");
        if (!existsSync(pj)) continue;
        const j = JSON.parse(readFileSync(pj, "utf8")) as { name: string; dependencies?: Record<string, string> };
        deps.set(j.name, Object.keys(j.dependencies ?? {}).filter((d) => d.startsWith("@tpdk/")));
      }
    }
    expect(deps.size).toBeGreaterThan(5);
    expect(circles(deps)).toEqual([]);
  });
});

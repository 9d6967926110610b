import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The docs point into each other two ways, and both must survive a section moving to another
// file (session 31 moved bench/README.md's lab sections into bench/notes/):
// - markdown links in the *.md files: `[text](path#fragment)`, the path relative to the file,
//   the fragment a heading's anchor there (GitHub's rule, `anchor` below);
// - citations in comments and READMEs: `bench/notes/gc.md "Session 21: GC"` (the path from the
//   repository's root or from the citing file's folder, a heading's text in quotes; several
//   titles may follow one path: `x.md, "A", "B"`). A citation wrapped over comment lines counts
//   as one. The title is compared by its anchor, so backticks and case do not matter; it may
//   leave out a heading's trailing "(...)" ("Machine jitter" for "Machine jitter (`--only
//   jitter`)"), and it may name a bold label that opens a list item or paragraph instead of a
//   heading (WIRES.md "On-demand sources").
// No peers, no build: reads the files only.

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const self = fileURLToPath(import.meta.url);

/** The repository's files (relative paths): git's list, new files not ignored included (the tests run in a checkout). */
function repoFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  return [...new Set(out.split("\0").filter(Boolean))].filter((f) => existsSync(join(root, f)) && statSync(join(root, f)).isFile());
}

/** GitHub's heading anchor: the heading's text (links as their text), lowercased, every character but letters, digits, '_', '-' and spaces dropped, spaces to '-'. */
function anchor(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, "")
    .replace(/ /g, "-");
}

const FENCE = /^ {0,3}(```|~~~)/;
const ATX = /^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/;

/** The lines with fenced code and the fence lines themselves blanked, so line numbers stay. */
function unfencedLines(md: string): string[] {
  let fence = false;
  return md.split("\n").map((line) => {
    if (FENCE.test(line)) {
      fence = !fence;
      return "";
    }
    return fence ? "" : line;
  });
}

/** Capture `group` of `re` on each line outside fenced code that matches it, in order. */
function captures(md: string, re: RegExp, group: number): string[] {
  return unfencedLines(md).flatMap((line) => {
    const m = re.exec(line);
    return m ? [m[group]!] : [];
  });
}

/** The text of every ATX heading outside fenced code, in order. */
const headingTexts = (md: string): string[] => captures(md, ATX, 2);

/** Bold labels that open a list item or a paragraph (`- **On-demand sources.** ...`): a document's named items. */
const BOLD_LABEL = /^ {0,3}(?:[-*+] +|\d+\. +)?\*\*(.+?)\*\*/;
const boldLabels = (md: string): string[] => captures(md, BOLD_LABEL, 1).map((t) => t.replace(/[.:]\s*$/, ""));

/** What a citation may name, as anchors: a heading's text, or a bold label's; either also without a trailing "(...)". */
function citable(md: string): Set<string> {
  const out = new Set<string>();
  for (const t of [...headingTexts(md), ...boldLabels(md)]) {
    out.add(anchor(t));
    out.add(anchor(t.replace(/\s*\([^()]*\)\s*$/, "")));
  }
  return out;
}

/** Every anchor of a markdown text: a repeated heading's later ones get -1, -2, ... */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headingTexts(md)) {
    const base = anchor(h);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Fenced blocks and inline code blanked (lengths and line breaks kept, so offsets still give lines). */
function withoutCode(md: string): string {
  return unfencedLines(md).join("\n").replace(/`+(?:[^`\n]|\n(?!\s*\n))*?`+/g, (s) => s.replace(/[^\n]/g, " "));
}

const lineOf = (text: string, offset: number): number => text.slice(0, offset).split("\n").length;

interface Reader {
  /** A file's text, undefined when there is no such file. */
  read(abs: string): string | undefined;
  exists(abs: string): boolean;
}

const disk: Reader = {
  read: (abs) => (existsSync(abs) && statSync(abs).isFile() ? readFileSync(abs, "utf8") : undefined),
  exists: (abs) => existsSync(abs),
};

const LINK = /!?\[(?:[^[\]]|\[[^[\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/** The broken relative links of one markdown file (file: its path from the root). */
function brokenLinks(file: string, text: string, fs: Reader = disk): string[] {
  const out: string[] = [];
  const clean = withoutCode(text);
  for (const m of clean.matchAll(LINK)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const hash = target.indexOf("#");
    const path = decodeURI(hash < 0 ? target : target.slice(0, hash));
    const fragment = hash < 0 ? "" : target.slice(hash + 1);
    const abs = path === "" ? join(root, file) : path.startsWith("/") ? join(root, path) : resolve(root, dirname(file), path);
    const where = `${file}:${lineOf(clean, m.index!)}: ${target}`;
    if (path !== "" && !fs.exists(abs)) {
      out.push(`${where}: no such file`);
      continue;
    }
    if (fragment === "" || !abs.endsWith(".md")) continue;
    const md = path === "" ? text : fs.read(abs);
    if (md === undefined || !anchors(md).has(fragment)) out.push(`${where}: no heading with that anchor`);
  }
  return out;
}

const CITE = /(?<![\w./-])((?:[\w.-]+\/)*[\w-][\w.-]*\.md)(?:,\s*|\s+)"([^"]{1,200})"/g;
const MORE = /^,\s*"([^"]{1,200})"/;

/** A file's text with comment leaders (`//`, `/**`, `*`) dropped and its lines joined by spaces, and where each line starts in it. */
function flatten(file: string, text: string): { flat: string; starts: number[] } {
  const code = !file.endsWith(".md");
  const starts: number[] = [];
  let flat = "";
  for (const line of text.split("\n")) {
    starts.push(flat.length);
    flat += (code ? line.replace(/^\s*(?:\/\/+|\/\*+|\*+(?!\/))\s?/, "") : line).trim() + " ";
  }
  return { flat, starts };
}

interface Citation {
  where: string;
  path: string;
  title: string;
}

/** Every `<path>.md "Title"` citation of one file. */
function citations(file: string, text: string): Citation[] {
  const { flat, starts } = flatten(file, text);
  const line = (offset: number): number => {
    let k = 0;
    while (k + 1 < starts.length && starts[k + 1]! <= offset) k++;
    return k + 1;
  };
  const out: Citation[] = [];
  for (const m of flat.matchAll(CITE)) {
    const where = `${file}:${line(m.index!)}`;
    out.push({ where, path: m[1]!, title: m[2]!.replace(/\s+/g, " ").trim() });
    let rest = flat.slice(m.index! + m[0].length);
    for (let n = MORE.exec(rest); n; n = MORE.exec(rest)) {
      out.push({ where, path: m[1]!, title: n[1]!.replace(/\s+/g, " ").trim() });
      rest = rest.slice(n[0].length);
    }
  }
  return out;
}

/** The citations of one file whose file or title does not exist. */
function wrongCitations(file: string, text: string, fs: Reader = disk): string[] {
  const out: string[] = [];
  for (const c of citations(file, text)) {
    const abs = [join(root, c.path), resolve(root, dirname(file), c.path)].find((p) => fs.read(p) !== undefined);
    if (abs === undefined) {
      out.push(`${c.where}: ${c.path} "${c.title}": no such file`);
      continue;
    }
    if (!citable(fs.read(abs)!).has(anchor(c.title))) out.push(`${c.where}: ${c.path} "${c.title}": no such heading in ${relative(root, abs)}`);
  }
  return out;
}

const CODE = /\.(?:ts|cts|mts|js|cjs|mjs)$/;

describe("links and citations between the docs", () => {
  const all = repoFiles().filter((f) => !f.split("/").includes("node_modules") && !f.split("/").includes("dist"));
  const md = all.filter((f) => f.endsWith(".md"));
  const cited = all.filter((f) => (f.endsWith(".md") || CODE.test(f)) && join(root, f) !== self);
  const text = (f: string): string => readFileSync(join(root, f), "utf8");

  it("finds the links and the citations (the scan works)", () => {
    expect(md.length).toBeGreaterThan(15);
    const links = md.reduce((n, f) => n + [...withoutCode(text(f)).matchAll(LINK)].length, 0);
    expect(links).toBeGreaterThan(100);
    const cites = cited.flatMap((f) => citations(f, text(f)));
    expect(cites.length).toBeGreaterThan(50);
    expect(cites.filter((c) => c.path.startsWith("bench/notes/")).length).toBeGreaterThan(20);
  });

  it("every relative link in a tracked *.md file reaches a file, and its #fragment a heading there", () => {
    expect(md.flatMap((f) => brokenLinks(f, text(f)))).toEqual([]);
  });

  it('every `<file>.md "Title"` citation in comments and READMEs names a heading of that file', () => {
    expect(cited.flatMap((f) => wrongCitations(f, text(f)))).toEqual([]);
  });

  it("anchors follow GitHub's rule, repeated headings numbered", () => {
    expect(anchor("Session 25: the header line under `MRG_RXBUF`, decided")).toBe("session-25-the-header-line-under-mrg_rxbuf-decided");
    expect(anchor("Speed: where the front-end's time goes")).toBe("speed-where-the-front-ends-time-goes");
    expect(anchor("Session 15: free-running counters past 2^30, 2^31, 2^32")).toBe("session-15-free-running-counters-past-230-231-232");
    expect(anchor("Pipeline benchmark (`pnpm bench`)")).toBe("pipeline-benchmark-pnpm-bench");
    expect([...anchors("# Recorded run\n\n## Recorded run\n\n```\n# not a heading\n```\n### Recorded run\n")]).toEqual([
      "recorded-run",
      "recorded-run-1",
      "recorded-run-2",
    ]);
  });

  it("catches a broken link: a missing file, a missing heading, also in a same-file link; not inside code", () => {
    const planted = [
      "# Top",
      "[ok](notes/gc.md#session-21-gc) [ok too](#top) [results](results/full.md)",
      "[wrong fragment](notes/gc.md#session-21-gcc)",
      "[gone](notes/gone.md)",
      "[no heading](#bottom)",
      "`[in code](nowhere.md)`",
      "```",
      "[in a fence](nowhere.md)",
      "```",
    ].join("\n");
    expect(brokenLinks("bench/README.md", planted)).toEqual([
      "bench/README.md:3: notes/gc.md#session-21-gcc: no heading with that anchor",
      "bench/README.md:4: notes/gone.md: no such file",
      "bench/README.md:5: #bottom: no heading with that anchor",
    ]);
  });

  it("catches a citation of a title its file does not have, wrapped over comment lines too", () => {
    const planted = [
      "/**",
      ' * right (bench/notes/gc.md "Session 21: GC"); a moved one (bench/README.md,',
      ' * "Session 21:',
      ' * GC"); a wrong title (bench/notes/gc.md, "Session 21: pipeline", "Session 22: GC");',
      ' * relative to the file, a bold label: WIRES.md "On-demand sources"; no file: nowhere.md "Start".',
      ' * A heading without its trailing "(...)": bench/README.md "Machine jitter"; not a citation: "README.md",',
      " */",
    ].join("\n");
    expect(citations("packages/vhost/x.ts", planted).map((c) => `${c.path} "${c.title}"`)).toEqual([
      'bench/notes/gc.md "Session 21: GC"',
      'bench/README.md "Session 21: GC"',
      'bench/notes/gc.md "Session 21: pipeline"',
      'bench/notes/gc.md "Session 22: GC"',
      'WIRES.md "On-demand sources"',
      'nowhere.md "Start"',
      'bench/README.md "Machine jitter"',
    ]);
    expect(wrongCitations("packages/vhost/x.ts", planted)).toEqual([
      'packages/vhost/x.ts:2: bench/README.md "Session 21: GC": no such heading in bench/README.md',
      'packages/vhost/x.ts:4: bench/notes/gc.md "Session 21: pipeline": no such heading in bench/notes/gc.md',
      'packages/vhost/x.ts:5: nowhere.md "Start": no such file',
    ]);
  });
});

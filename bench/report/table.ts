/** A table rendered either as aligned text (terminal) or as markdown. */
export interface Table {
  header: string[];
  /** "l" or "r" per column. */
  align: ("l" | "r")[];
  rows: string[][];
}

export function renderText(t: Table): string {
  const w = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (t.align[i] === "r" ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("  ").trimEnd();
  return [line(t.header), w.map((n) => "-".repeat(n)).join("  "), ...t.rows.map(line)].join("\n");
}

export function renderMarkdown(t: Table): string {
  const esc = (s: string): string => s.replace(/\|/g, "\\|");
  return [
    `| ${t.header.map(esc).join(" | ")} |`,
    `|${t.align.map((a) => (a === "r" ? "---:" : "---")).join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Comments and READMEs cite the packed-ring rules by virtio 1.2 section
// number (§2.8.x; 1.2 added §2.4 "Device Reset", so packed rings are §2.8 and
// split rings §2.7). The numbers of 1.2's packed chapter, from its source
// (packed-ring.tex: every \subsection, the normative ones included, counts):
const PACKED_1_2: Record<string, string> = {
  "2.8": "Packed Virtqueues",
  "2.8.1": "Driver and Device Ring Wrap Counters",
  "2.8.2": "Polling of available and used descriptors",
  "2.8.3": "Write Flag",
  "2.8.4": "Element Address and Length",
  "2.8.5": "Scatter-Gather Support",
  "2.8.6": "Next Flag: Descriptor Chaining",
  "2.8.7": "Indirect Flag: Scatter-Gather Support",
  "2.8.8": "In-order use of descriptors",
  "2.8.9": "Multi-buffer requests",
  "2.8.10": "Driver and Device Event Suppression",
  "2.8.10.1": "Structure Size and Alignment",
  "2.8.11": "Driver Requirements: Virtqueues",
  "2.8.12": "Device Requirements: Virtqueues",
  "2.8.13": "The Virtqueue Descriptor Format",
  "2.8.14": "Event Suppression Structure Format",
  "2.8.15": "Device Requirements: The Virtqueue Descriptor Table",
  "2.8.16": "Driver Requirements: The Virtqueue Descriptor Table",
  "2.8.17": "Driver Requirements: Scatter-Gather Support",
  "2.8.18": "Device Requirements: Scatter-Gather Support",
  "2.8.19": "Driver Requirements: Indirect Descriptors",
  "2.8.20": "Virtqueue Operation",
  "2.8.21": "Supplying Buffers to The Device",
  "2.8.21.1": "Placing Available Buffers Into The Descriptor Ring",
  "2.8.21.2": "Sending Available Buffer Notifications",
  "2.8.21.3": "Implementation Example",
  "2.8.22": "Receiving Used Buffers From The Device",
};

// What a citation of these sections must be about: a word of the topic on the
// citing line or the line before (comments wrap). The sections whose numbers
// were once cited off by one or more (in-order as 2.8.9, multi-buffer as
// 2.8.14, receiving used buffers as 2.8.21) and their neighbours.
const TOPIC: Record<string, RegExp> = {
  "2.8.7": /indirect|table/i,
  "2.8.8": /in[ _-]?order|batch/i,
  "2.8.9": /multi-buffer|first buffer|after the rest|before all/i,
  "2.8.13": /descriptor|addr|len|id|flags/i,
  "2.8.14": /event suppression|off_wrap|desc_event/i,
  "2.8.21": /supply|supplying|make available|made available|placing/i,
  "2.8.22": /receiv|used|barrier/i,
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function files(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      if (e === "node_modules" || e === "dist" || e === "results" || e.startsWith(".")) continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if ((p.endsWith(".ts") && !p.endsWith(".d.ts")) || p.endsWith(".md")) out.push(p);
    }
  };
  for (const top of ["packages", "apps", "test", "bench", "scripts"]) walk(join(root, top));
  out.push(join(root, "README.md"));
  return out.filter((f) => f !== fileURLToPath(import.meta.url));
}

interface Citation {
  where: string;
  section: string;
  line: string;
  context: string;
}

function citations(): Citation[] {
  const out: Citation[] = [];
  const CITE = /§\s?(2\.8(?:\.\d+)*)/g;
  for (const f of files()) {
    const lines = readFileSync(f, "utf8").split("\n");
    lines.forEach((line, i) => {
      for (const m of line.matchAll(CITE)) {
        out.push({ where: `${relative(root, f)}:${i + 1}`, section: m[1]!, line, context: `${lines[i - 1] ?? ""} ${line}`.replace(/\s+/g, " ") });
      }
    });
  }
  return out;
}

describe("virtio 1.2 packed-ring section numbers cited in the tree", () => {
  const all = citations();

  it("finds the citations (the scan works)", () => {
    expect(all.length).toBeGreaterThan(50);
  });

  it("every §2.8.x cited exists in virtio 1.2", () => {
    const unknown = all.filter((c) => !(c.section in PACKED_1_2)).map((c) => `${c.where}: §${c.section}`);
    expect(unknown).toEqual([]);
  });

  it('a title quoted after a number is that section\'s ("§2.8.22 "Receiving ..."")', () => {
    const wrong: string[] = [];
    for (const c of all) {
      const m = new RegExp(`§\\s?${c.section.replace(/\./g, "\\.")}\\s+"([^"]+)"`).exec(c.line);
      if (m && m[1] !== PACKED_1_2[c.section]) wrong.push(`${c.where}: §${c.section} "${m[1]}" is "${PACKED_1_2[c.section]}"`);
    }
    expect(wrong).toEqual([]);
  });

  it("each citation of a section with a known topic is about that topic", () => {
    const off = all
      .filter((c) => TOPIC[c.section] && !TOPIC[c.section]!.test(c.context))
      .map((c) => `${c.where}: §${c.section} (${PACKED_1_2[c.section]}) cited for: ${c.line.trim()}`);
    expect(off).toEqual([]);
  });

  it("the topic check catches a wrong number (in-order cited as the multi-buffer section)", () => {
    const planted = "under IN_ORDER one used descriptor covers the batch (§2.8.9)";
    expect(TOPIC["2.8.9"]!.test(planted)).toBe(false);
    expect(TOPIC["2.8.8"]!.test(planted)).toBe(true);
  });
});

/**
 * DrawingML helpers shared by the Office extractors: the `a:` text body (paragraph text), tables
 * (`a:tbl`) and charts (`c:chart` parts: title and cached data as a Markdown table). PPTX slides,
 * DOCX (word/charts) and XLSX (xl/charts) all draw charts the same way.
 */
import type { Element } from "domhandler";
import type { Block } from "../types.ts";
import { markdownTable } from "./tables.ts";
import { attr, isEl, kids, local, parseXml } from "./xml-dom.ts";

export function kid(el: Element | undefined, name: string): Element | undefined {
  return el ? kids(el, name)[0] : undefined;
}
export function descendants(el: Element, name: string, out: Element[] = []): Element[] {
  for (const c of el.children) {
    if (!isEl(c)) continue;
    if (local(c.name) === name) out.push(c);
    else descendants(c, name, out);
  }
  return out;
}
/** The relationship id of an element (r:id, whatever the prefix), not its plain `id`. */
export function relId(el: Element): string | undefined {
  for (const [k, v] of Object.entries(el.attribs)) if (k.includes(":") && local(k) === "id") return v;
  return undefined;
}

/** Text of one a:p (runs, fields, line breaks, tabs). */
export function paragraphText(p: Element): string {
  let out = "";
  const walk = (el: Element) => {
    for (const c of el.children) {
      if (!isEl(c)) continue;
      const n = local(c.name);
      if (n === "t") out += c.children.map((t) => (t.type === "text" ? t.data : "")).join("");
      else if (n === "br") out += "\n";
      else if (n === "tab") out += "\t";
      else if (n === "r" || n === "fld" || n === "smartTag" || n === "hlinkClick") walk(c);
    }
  };
  walk(p);
  return out.replace(/[ \t\u00a0]+/g, " ").replace(/ ?\n ?/g, "\n").trim();
}

export function tableBlock(tbl: Element): Block | undefined {
  const rows: string[][] = [];
  for (const tr of kids(tbl, "tr")) {
    const row: string[] = [];
    for (const tc of kids(tr, "tc")) {
      if (attr(tc, "hMerge") === "1" || attr(tc, "vMerge") === "1") {
        row.push("");
        continue;
      }
      const txBody = kid(tc, "txBody");
      row.push(txBody ? kids(txBody, "p").map(paragraphText).filter(Boolean).join(" ") : "");
    }
    rows.push(row);
  }
  const md = markdownTable(rows);
  return md ? { kind: "table", text: md } : undefined;
}

/** Text of the <c:v> values of a cache (strCache / numCache / strLit / numLit), by point index. */
function cachePoints(el: Element | undefined): string[] {
  const out: string[] = [];
  if (!el) return out;
  for (const pt of descendants(el, "pt")) {
    const idx = Number(attr(pt, "idx") ?? out.length);
    const v = kid(pt, "v");
    let text = v ? v.children.map((t) => (t.type === "text" ? t.data : "")).join("") : "";
    // Cached numbers carry binary noise ("4.4000000000000004").
    if (/^-?\d+\.\d{9,}$/.test(text)) text = String(Number(Number(text).toPrecision(12)));
    if (Number.isInteger(idx) && idx >= 0 && idx < 100_000) out[idx] = text;
  }
  return out;
}

/** A chart part (ppt/charts/chartN.xml) → its title as a caption and its cached data as a Markdown table. */
export function chartBlocks(xml: string): Block[] {
  const root = parseXml(xml);
  const chart = root ? kid(root, "chart") : undefined;
  if (!chart) return [];
  const blocks: Block[] = [];
  const title = kid(chart, "title");
  if (title) {
    const t = descendants(title, "p").map(paragraphText).filter(Boolean).join(" ");
    if (t) blocks.push({ kind: "caption", text: t });
  }
  const plot = kid(chart, "plotArea");
  const series = plot ? descendants(plot, "ser") : [];
  if (series.length === 0) return blocks;
  const names: string[] = [];
  let categories: string[] = [];
  const columns: string[][] = [];
  for (const [i, ser] of series.entries()) {
    names.push(cachePoints(kid(ser, "tx")).join(" ") || `Series ${i + 1}`);
    const cat = cachePoints(kid(ser, "cat") ?? kid(ser, "xVal"));
    if (cat.length > categories.length) categories = cat;
    columns.push(cachePoints(kid(ser, "val") ?? kid(ser, "yVal")));
  }
  const n = Math.max(categories.length, ...columns.map((c) => c.length));
  const rows: string[][] = [["", ...names]];
  for (let r = 0; r < Math.min(n, 10_000); r++) rows.push([categories[r] ?? String(r + 1), ...columns.map((c) => c[r] ?? "")]);
  const md = markdownTable(rows);
  if (md) blocks.push({ kind: "table", text: md });
  return blocks;
}

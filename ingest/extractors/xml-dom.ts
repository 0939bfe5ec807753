/**
 * Small namespace-agnostic helpers over cheerio's XML DOM, shared by the OOXML/OWPML extractors
 * (PPTX slides, HWPX sections): elements are matched by local name, whatever their prefix.
 */
import { load } from "cheerio";
import type { AnyNode, Element } from "domhandler";

export type { Element };

export function isEl(n: AnyNode): n is Element {
  return n.type === "tag";
}

/** "a:p" → "p". */
export function local(name: string): string {
  const i = name.indexOf(":");
  return i >= 0 ? name.slice(i + 1) : name;
}

/** Child elements, optionally only those with the given local name. */
export function kids(el: Element, name?: string): Element[] {
  return el.children.filter((c): c is Element => isEl(c) && (name === undefined || local(c.name) === name));
}

/** An attribute by full or local name. */
export function attr(el: Element | undefined, name: string): string | undefined {
  if (!el) return undefined;
  for (const [k, v] of Object.entries(el.attribs)) if (k === name || local(k) === name) return v;
  return undefined;
}

/** The root element of an XML document. */
export function parseXml(xml: string): Element | undefined {
  const $ = load(xml, { xml: true });
  return $.root()
    .children()
    .toArray()
    .find((n): n is Element => isEl(n));
}

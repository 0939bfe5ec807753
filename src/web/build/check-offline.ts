/**
 * Fails the web build when its output could reach outside this server: any http(s) URL in the
 * built HTML, CSS or JavaScript other than the inert identifiers listed here (XML namespaces,
 * which browsers never fetch, and library error-message links, which are text shown in the
 * console, never requested), an inline <script>, or a protocol-relative URL in CSS.
 */
import fs from "node:fs";
import path from "node:path";

const DIST = path.resolve(import.meta.dirname, "../dist");

/**
 * Strings in the bundled libraries that look like URLs but are never fetched. Listed one by
 * one, so a new dependency that brings a real address (a CDN, a font, telemetry) fails the
 * build until someone looks at it. At run time the CSP (connect-src 'self') refuses anyway.
 */
const INERT: { pattern: RegExp; why: string }[] = [
  { pattern: /^http:\/\/www\.w3\.org\/[\w/.#-]+$/, why: "XML namespace identifiers (SVG, XHTML, MathML, XSLT, xmldsig)" },
  { pattern: /^http:\/\/(www\.xfa\.org\/schema|ns\.adobe\.com)\/[\w/.-]*$/, why: "XFA/XMP namespace identifiers in pdf.js's worker" },
  { pattern: /^https:\/\/react\.dev\/errors\/$/, why: "React's production error messages (text)" },
  { pattern: /^https:\/\/react\.i18next\.com\/[\w/-]+$/, why: "react-i18next warning text" },
  { pattern: /^https:\/\/mantine\.dev\/[\w/#-]+$/, why: "Mantine warning text" },
  { pattern: /^https:\/\/reactrouter\.com\/[\w/-]+$/, why: "React Router warning text" },
  { pattern: /^https:\/\/github\.com\/(ungap\/url-search-params|syntax-tree\/hast-util-to-jsx-runtime)[\w/#-]*$/, why: "library warning text" },
  { pattern: /^https:\/\/developer\.mozilla\.org\/en-US\/docs\/[\w/.-]+$/, why: "react-dropzone warning text (MDN links)" },
  { pattern: /^http:\/\/www\.apache\.org\/licenses\/LICENSE-2\.0$/, why: "pdf.js licence comment" },
  { pattern: /^(http:\/\/localhost|http:\/\/example\.com|https:\/\/foo\.bar|http:\/\/\$\{e\})$/, why: "base URLs for parsing relative URLs (new URL(x, base)), never requested" },
];

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(html|css|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

export function externalReferences(dist: string): { file: string; url: string }[] {
  const found: { file: string; url: string }[] = [];
  for (const file of walk(dist)) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/https?:\/\/[^\s"'`)<>\\]+/g)) {
      const url = m[0].replace(/[.,;]+$/, "");
      if (!INERT.some((i) => i.pattern.test(url))) found.push({ file: path.relative(dist, file), url });
    }
    if (file.endsWith(".css")) for (const m of text.matchAll(/url\(\s*["']?\/\/[^)]+\)/g)) found.push({ file: path.relative(dist, file), url: m[0] });
    if (file.endsWith(".html") && /<script(?![^>]*\bsrc=)[^>]*>/i.test(text)) found.push({ file: path.relative(dist, file), url: "inline <script>" });
  }
  return found;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  if (!fs.existsSync(path.join(DIST, "index.html"))) {
    console.error(`no build in ${DIST}`);
    process.exit(1);
  }
  const found = externalReferences(DIST);
  if (found.length) {
    const byUrl = new Map<string, Set<string>>();
    for (const f of found) byUrl.set(f.url, (byUrl.get(f.url) ?? new Set()).add(f.file));
    for (const [url, files] of byUrl) console.error(`external reference ${url} in ${[...files].join(", ")}`);
    console.error(`${byUrl.size} external reference(s) in the web build: the app must work offline`);
    process.exit(1);
  }
  console.log(`web build: no external references (inert URL-like strings allowed: ${INERT.map((i) => i.why).join("; ")})`);
}

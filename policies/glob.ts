/**
 * Source-path globs for document default rules, compiled to regular expressions (no dependency).
 *
 *   *      any run of characters except "/"
 *   **     any run of characters including "/" (as a whole segment: `a/**\/b`, `**\/x`, `x/**`)
 *   ?      one character except "/"
 *   [abc]  [a-z]  [!abc]   a character class
 *   {a,b}  alternatives (may contain the other wildcards; no nesting)
 *
 * A pattern starting with "/" is anchored at the root of the source path. Any other pattern may
 * start at any path segment: `*.pdf` matches every PDF, `hr/**` everything under a folder named
 * "hr" wherever it is, `docs/hr/*.md` the Markdown files directly in some `docs/hr`.
 * Backslashes in sources are treated as "/". Matching is case-sensitive and covers the whole
 * rest of the path (`hr` matches a file or folder named exactly "hr" at the end).
 */
export interface Glob {
  pattern: string;
  regex: RegExp;
}

export class GlobError extends Error {}

export function compileGlob(pattern: string): Glob {
  if (!pattern || pattern.length > 500) throw new GlobError(`invalid glob "${pattern}": must be 1..500 characters`);
  const anchored = pattern.startsWith("/");
  return { pattern, regex: new RegExp(`^${anchored ? "" : "(?:.*/)?"}${translate(pattern)}$`, "u") };
}

function translate(p: string): string {
  let out = "";
  let i = 0;
  let inBraces = false;
  while (i < p.length) {
    const c = p[i]!;
    if (c === "*") {
      if (p[i + 1] === "*") {
        const atStart = i === 0 || p[i - 1] === "/";
        const after = p[i + 2];
        if (atStart && after === "/") {
          out += "(?:.*/)?"; // **/ : zero or more whole segments
          i += 3;
          continue;
        }
        if (atStart && after === undefined) {
          out += ".*";
          i += 2;
          continue;
        }
        throw new GlobError(`invalid glob "${p}": "**" must be a whole path segment`);
      }
      out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) throw new GlobError(`invalid glob "${p}": unclosed "["`);
      let body = p.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end + 1;
      continue;
    } else if (c === "{") {
      if (inBraces) throw new GlobError(`invalid glob "${p}": nested "{"`);
      inBraces = true;
      out += "(?:";
    } else if (c === "}" && inBraces) {
      inBraces = false;
      out += ")";
    } else if (c === "," && inBraces) out += "|";
    else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    i++;
  }
  if (inBraces) throw new GlobError(`invalid glob "${p}": unclosed "{"`);
  return out;
}

export function matchGlob(glob: Glob, source: string): boolean {
  return glob.regex.test(source.replaceAll("\\", "/"));
}

/**
 * The product's import graph, read from the source with TypeScript's own pre-processor (static
 * imports, re-exports and `import("…")` alike, type-only ones included: an arrow is an arrow).
 * Used by imports.test.ts to keep imports running one way (entry points → services →
 * domain/ingest/policies → stores/models) with no circles.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export const ROOT = path.resolve(import.meta.dirname, "../..");
/** The product's code; tests and benches may import anything. */
const PRODUCT_DIRS = ["src", "ingest", "policies"];

/** Layers from top (0) to bottom. A module may import its own layer or any layer below it. */
export const LAYERS: { name: string; dirs: string[] }[] = [
  // src/web: the web app's build tooling (OpenAPI generation, Vite config). The browser app
  // itself (src/web/src) is not part of this graph: web-app.test.ts keeps it inside its folder.
  { name: "entry points", dirs: ["src/http", "src/cli", "src/mcp", "src/web"] },
  { name: "services", dirs: ["src/services", "src/eval"] },
  { name: "domain", dirs: ["src/domain", "ingest", "policies"] },
  { name: "stores/models", dirs: ["src/stores", "src/models"] },
  { name: "config", dirs: ["src/config.ts", "src/paths.ts"] },
];

export function layerOf(file: string): number {
  let best = -1;
  let bestLen = -1;
  for (const [i, layer] of LAYERS.entries()) {
    for (const d of layer.dirs) {
      if ((file === d || file.startsWith(d + "/")) && d.length > bestLen) {
        best = i;
        bestLen = d.length;
      }
    }
  }
  return best;
}

/** The browser app and its build output: not server code (see web-app.test.ts). */
export const WEB_APP_DIRS = ["src/web/src", "src/web/dist"];

function walk(dir: string, out: string[]): void {
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory() && WEB_APP_DIRS.includes(rel)) continue;
    if (e.isDirectory()) walk(rel, out);
    else if (/\.(ts|mts)$/.test(e.name) && !/\.test\.ts$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
  }
}

export function productFiles(): string[] {
  const out: string[] = [];
  for (const d of PRODUCT_DIRS) walk(d, out);
  return out.sort();
}

/** file → the product files it imports (relative specifiers only; packages are not ours). */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of productFiles()) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const info = ts.preProcessFile(text, true, true);
    const targets = new Set<string>();
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith(".")) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.fileName));
      if (target.endsWith(".ts") || target.endsWith(".mts")) targets.add(target);
      else if (fs.existsSync(path.join(ROOT, target + ".ts"))) targets.add(target + ".ts");
      else if (fs.existsSync(path.join(ROOT, target, "index.ts"))) targets.add(target + "/index.ts");
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Strongly connected components with more than one file (or a self-import): each is a circle. */
export function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Imports from a lower layer to a higher one, as "from → to". */
export function upwardImports(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [from, tos] of graph) {
    const lf = layerOf(from);
    for (const to of tos) {
      const lt = layerOf(to);
      if (lf >= 0 && lt >= 0 && lt < lf) out.push(`${from} → ${to}`);
    }
  }
  return out.sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const g = importGraph();
  const unlayered = [...g.keys()].filter((f) => layerOf(f) < 0);
  console.log(JSON.stringify({ files: g.size, unlayered, circles: circles(g), upward: upwardImports(g) }, null, 2));
}

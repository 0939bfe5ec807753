/**
 * Vite build of the web app: `npm run build:web` (after src/web/build/openapi.ts) writes
 * src/web/dist, which src/http/web.ts serves. Everything is bundled or copied here: no CDN.
 */
import fs from "node:fs";
import path from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const here = import.meta.dirname;
const pdfjsDir = path.resolve(here, "../../node_modules/pdfjs-dist");

/** pdf.js needs its character maps (CJK fonts) and standard fonts as files; copied beside the app. */
function copyPdfjsData(): Plugin {
  return {
    name: "copy-pdfjs-data",
    apply: "build",
    writeBundle(options) {
      const out = options.dir ?? path.join(here, "dist");
      for (const d of ["cmaps", "standard_fonts"]) {
        fs.cpSync(path.join(pdfjsDir, d), path.join(out, "pdfjs", d), { recursive: true });
      }
    },
  };
}

export default defineConfig({
  root: here,
  base: "/",
  plugins: [react(), copyPdfjsData()],
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    // `npx vite --config src/web/vite.config.ts` during development, against `npm start`.
    proxy: { "/api": "http://127.0.0.1:8787" },
  },
});

// Lint only what the type checker cannot see: promises that nobody awaits or handles.
// The metadata store is asynchronous (src/stores/metadata.ts); a forgotten `await` there turns
// a failed write into an unhandled rejection and reorders work, and tsc does not flag it.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "data/**", "src/web/**", "dist/**"] },
  {
    files: ["src/**/*.ts", "ingest/**/*.ts", "policies/**/*.ts", "bench/**/*.ts", "test/**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
    },
  },
);

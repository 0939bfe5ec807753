// Lint only what the type checker cannot see: promises that nobody awaits or handles.
// The metadata store is asynchronous (src/stores/metadata.ts); a forgotten `await` there turns
// a failed write into an unhandled rejection and reorders work, and tsc does not flag it.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "data/**", "src/web/dist/**", "dist/**"] },
  {
    files: ["src/**/*.ts", "ingest/**/*.ts", "policies/**/*.ts", "bench/**/*.ts", "test/**/*.ts"],
    ignores: ["src/web/src/**"],
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
  // The web app: its own tsconfig (DOM, JSX); the same promise rules.
  {
    files: ["src/web/src/**/*.ts", "src/web/src/**/*.tsx"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: "./src/web/tsconfig.json", tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/await-thenable": "error",
    },
  },
);

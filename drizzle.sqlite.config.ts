import { defineConfig } from "drizzle-kit";

// SQLite (the default metadata store): `npm run db:generate:sqlite`.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/stores/sqlite/schema.ts",
  out: "./drizzle/sqlite",
});

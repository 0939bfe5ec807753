import { defineConfig } from "drizzle-kit";

// PostgreSQL (KB_DATABASE_URL): `npm run db:generate:pg`. Generating needs no server.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/stores/pg/schema.ts",
  out: "./drizzle/pg",
});

import { defineConfig } from "drizzle-kit";

// Only `generate` uses this file; migrations are applied by the app at start (db/migrate.ts).
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
});

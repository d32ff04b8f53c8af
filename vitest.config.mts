import { defineConfig } from "vitest/config";
import path from "node:path";

const root = import.meta.dirname;
const shared = {
  resolve: {
    alias: {
      "@": root,
      // lib/ files start with `import "server-only"`, which throws outside React Server Components.
      "server-only": path.join(root, "node_modules/server-only/empty.js"),
    },
  },
};

// Auth.js imports `next/server` without an extension, which Node's ESM loader refuses: let Vite
// resolve it (the access matrix runs actions through the real `auth()`).
const nextAuthInline = { deps: { inline: ["next-auth"] } };

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        test: {
          name: "unit",
          // test/: checks of the repository itself (import boundaries, compose.yaml, docs/FORMAT.md).
          include: ["{lib,db,inngest,app,test}/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "node_modules/**"],
        },
      },
      {
        ...shared,
        test: {
          name: "int",
          include: ["{lib,db,inngest,app}/**/*.int.test.ts"],
          globalSetup: ["test/global-setup-postgres.ts"],
          server: nextAuthInline,
          setupFiles: ["test/setup-database.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        ...shared,
        test: {
          name: "int-pglite",
          // The same database tests again on the embedded PGlite; storage, reach and archives do not touch Coffer's database.
          include: ["{lib,db,inngest,app}/**/*.int.test.ts"],
          exclude: [
            "lib/storage/**",
            "lib/reach/**",
            "lib/backups/**",
            "lib/restores/**",
            "lib/api/**",
            // Drops and re-creates a PostgreSQL database to play its loss.
            "lib/catalogue/**",
            "inngest/**",
            "node_modules/**",
          ],
          globalSetup: ["test/global-setup-pglite.ts"],
          server: nextAuthInline,
          setupFiles: ["test/setup-database.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

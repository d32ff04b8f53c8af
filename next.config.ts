import type { NextConfig } from "next";

const config: NextConfig = {
  // `node .next/standalone/server.js` is how the container image runs Coffer (see Dockerfile).
  output: "standalone",
  // Native modules and WASM assets load from node_modules at run time instead of being bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres", "ssh2", "cpu-features"],
  // Read from disk at start (db/client.ts), or per request (lib/api/reference.ts), so the file tracer cannot see them.
  outputFileTracingIncludes: {
    "/**": ["./db/migrations/**/*"],
    "/api/v1/reference/scalar.js": ["./node_modules/@scalar/api-reference/dist/browser/standalone.js"],
  },
  experimental: {
    // forbidden() renders app/forbidden.tsx with HTTP 403 for a role that is too small.
    authInterrupts: true,
  },
  poweredByHeader: false,
};

export default config;

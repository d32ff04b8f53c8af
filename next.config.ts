import type { NextConfig } from "next";

const config: NextConfig = {
  // Native modules and WASM assets load from node_modules at run time instead of being bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres", "ssh2", "cpu-features"],
  experimental: {
    // forbidden() renders app/forbidden.tsx with HTTP 403 for a role that is too small.
    authInterrupts: true,
  },
  poweredByHeader: false,
};

export default config;

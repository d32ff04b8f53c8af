import pkg from "@/package.json" with { type: "json" };

/** Written into every manifest, so a backup says which Coffer made it. */
export const COFFER_VERSION: string = pkg.version;

import { z } from "zod";
import { AppError } from "@/lib/errors";
import { compressionSettings } from "./compression";

/**
 * `manifest.json`, the first entry of every backup archive. Restore and verify read it before
 * anything else, so they validate it with `manifestSchema` (or `parseManifest`).
 *
 * - `entries`: every regular file of the archive except the manifest itself, with its size and
 *   SHA-256 as computed on the server before the archive streamed. Directory files can change
 *   between hashing and archiving; verification flags such an entry as a mismatch.
 * - `postgres`: one item per database dumped (a cluster source has one per database it listed). `tables` holds the row count of every user table,
 *   counted in the transaction whose snapshot the dump used (so counts and dump agree exactly).
 * - `compression`: the setting, and the tool and level that compressed the archive's data (absent
 *   in archives made before it was recorded).
 */
export const MANIFEST_FORMAT = 1;
export const MANIFEST_PATH = "manifest.json";
/**
 * The largest `manifest.json` read back from an archive someone uploaded (its import, its
 * verification), about 300 000 files' entries; a bigger one is not read into memory. A backup's
 * run keeps its manifest in the database as well, so restoring and verifying it never depend on this.
 */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/**
 * The largest `manifest.json` read back from an object Coffer sealed (a storage scan after the
 * database was lost): as large as any a backup could have recorded, PostgreSQL's limit for a jsonb
 * value being 256 MiB. Refusing less would call a good backup of many files damaged.
 */
export const MAX_SEALED_MANIFEST_BYTES = 256 * 1024 * 1024;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a lowercase hex SHA-256");
/** ISO 8601 with a year PostgreSQL stores (1 to 9999 in UTC: `0000-…` and `0001-01-01T00:00:00+01:00` are year 0). */
const isoTime = z.iso.datetime({ offset: true }).refine((s) => {
  const year = new Date(s).getUTCFullYear();
  return year >= 1 && year <= 9999;
}, "a time from the year 1 to 9999 (UTC)");

/** A member name safe to extract: relative, no `..`, no empty or `.` components, no NUL. */
export const entryPathSchema = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith("/") && !p.includes("\0") && p.split("/").every((c) => c !== "" && c !== "." && c !== ".."),
    "a relative path without '.' or '..' parts",
  );

export const manifestSourceSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("postgres"),
    id: z.string().min(1),
    name: z.string(),
    host: z.string(),
    port: z.number().int(),
    database: z.string(),
    user: z.string(),
  }),
  z.object({
    kind: z.literal("postgres_cluster"),
    id: z.string().min(1),
    name: z.string(),
    host: z.string(),
    port: z.number().int(),
    /** The maintenance database it connected to. */
    database: z.string(),
    user: z.string(),
    excludes: z.array(z.string()),
    /** The databases dumped (each has its item in `postgres`). */
    databases: z.array(z.string()),
    /** The roles, memberships and tablespaces (`pg_dumpall --globals-only`); password hashes only when the source asked. */
    globals: z.object({ path: entryPathSchema, rolePasswords: z.boolean() }),
  }),
  z.object({
    kind: z.literal("directory"),
    id: z.string().min(1),
    name: z.string(),
    paths: z.array(z.string()),
    excludes: z.array(z.string()),
  }),
]);

export const manifestEntrySchema = z.object({
  path: entryPathSchema,
  size: z.number().int().nonnegative(),
  sha256,
});

export const tableCountSchema = z.object({
  schema: z.string(),
  table: z.string(),
  rows: z.number().int().nonnegative(),
});

export const postgresDumpSchema = z.object({
  /** The source's id. */
  source: z.string().min(1),
  database: z.string(),
  /** The archive member holding the plain SQL dump, e.g. `postgres/shop.sql`. */
  path: entryPathSchema,
  /** `SHOW server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  serverVersion: z.string(),
  /** `pg_dump --version`, e.g. "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)". */
  pgDumpVersion: z.string(),
  /** The exported snapshot the dump and the counts used. */
  snapshot: z.string(),
  tables: z.array(tableCountSchema),
  /** Whole-cluster dumps: the database's owner (plain dumps leave the database itself out). */
  owner: z.string().optional(),
});

export const compressionRecordSchema = z.object({
  setting: z.enum(compressionSettings),
  tool: z.enum(["igzip", "pigz", "gzip"]),
  level: z.number().int().min(0).max(9),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  /** Coffer's version that made the archive. */
  coffer: z.string(),
  backupId: z.string().min(1),
  /** The server's name in Coffer. */
  server: z.string(),
  startedAt: isoTime,
  /** End of the dump phase (dumps written, files listed and hashed), before the archive streamed. */
  finishedAt: isoTime,
  sources: z.array(manifestSourceSchema),
  entries: z.array(manifestEntrySchema),
  postgres: z.array(postgresDumpSchema),
  compression: compressionRecordSchema.optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;
export type ManifestSource = z.infer<typeof manifestSourceSchema>;
export type PostgresDump = z.infer<typeof postgresDumpSchema>;
export type TableCount = z.infer<typeof tableCountSchema>;

/** Validates a manifest read from an archive (text, bytes or parsed JSON); throws an AppError saying what is wrong. */
export function parseManifest(input: unknown): Manifest {
  let value = input;
  if (typeof input === "string" || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString("utf8"));
    } catch {
      throw new AppError(
        "VALIDATION",
        "The archive's manifest.json is not valid JSON: the archive is damaged or not a Coffer backup.",
      );
    }
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      "VALIDATION",
      `The archive's manifest.json is not a Coffer manifest (format ${MANIFEST_FORMAT}): ${issue.path.join(".") || "(root)"}: ${issue.message}.`,
    );
  }
  return parsed.data;
}

/** Where a backup's roles and tablespaces are (`postgres/globals.sql`), if it has them. */
export function globalsOf(m: Manifest): { path: string; rolePasswords: boolean } | undefined {
  for (const s of m.sources) if (s.kind === "postgres_cluster") return s.globals;
  return undefined;
}

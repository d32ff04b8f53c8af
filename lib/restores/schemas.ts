import { z } from "zod";
import { backupRefSchema } from "../backups/schemas";
import { idOf } from "../ids";
import { entryPathSchema } from "../backups/manifest";

/** A PostgreSQL database name Coffer creates: what `CREATE DATABASE` accepts without surprises. */
export const databaseNameSchema = z
  .string()
  .trim()
  .min(1, "Enter a database name.")
  .max(63, "PostgreSQL database names are at most 63 bytes.")
  .regex(/^[A-Za-z_][A-Za-z0-9_$-]*$/, "Use letters, digits, _ , $ or -, starting with a letter or _.")
  .refine(
    (n) => !/^coffer_(restore|verify|old)_/.test(n),
    "Names starting with coffer_restore_, coffer_verify_ or coffer_old_ are Coffer's scratch databases.",
  )
  .refine((n) => !["postgres", "template0", "template1"].includes(n), "That is one of PostgreSQL's own databases.");

export const restoreDatabaseSchema = backupRefSchema.extend({
  /** The dump inside the archive, e.g. `postgres/shop.sql`. */
  member: entryPathSchema.refine((p) => p.endsWith(".sql"), "Choose a .sql dump inside the archive."),
  serverId: idOf("srv", "server"),
  /** The database source whose connection (host, port, user, password) reaches the target PostgreSQL. */
  connectionSourceId: idOf("src", "database connection"),
  targetDatabase: databaseNameSchema,
  mode: z.enum(["new", "replace"]).default("new"),
  /** Create the backup's roles and tablespaces (a whole-cluster backup's globals.sql) before the database. */
  withGlobals: z.boolean().optional(),
  /** Replace only: the database name typed again. */
  confirm: z.string().optional(),
});
export type RestoreDatabaseInput = z.infer<typeof restoreDatabaseSchema>;

export const restoreDirectorySchema = backupRefSchema.extend({
  /** Archive folders to restore, e.g. `files/var/www`. */
  members: z
    .array(entryPathSchema.refine((p) => p.startsWith("files/"), "Choose folders under files/ in the archive."))
    .min(1, "Choose what to restore.")
    .max(50),
  serverId: idOf("srv", "server"),
  targetPath: z
    .string()
    .trim()
    .regex(/^\/[^\0\n\r]*$/, "Enter an absolute path on the server, e.g. /srv/restored.")
    .refine((p) => !p.split("/").includes(".."), "The path may not contain '..'."),
  mode: z.enum(["fresh", "overwrite"]).default("fresh"),
});
export type RestoreDirectoryInput = z.infer<typeof restoreDirectorySchema>;

export const verifyBackupSchema = backupRefSchema.extend({
  /** Whose connection reaches the PostgreSQL to verify on; absent: each database's own source. */
  connectionSourceId: idOf("src", "database connection").optional(),
});
export type VerifyBackupInput = z.infer<typeof verifyBackupSchema>;

export const restoreRefSchema = z.object({ restoreId: idOf("rst", "restore") });

import { z } from "zod";
import { wholeNumber } from "../whole-number";
import { idOf } from "../ids";

export const nameSchema = z.string().trim().min(1, "Enter a name.").max(80, "Use at most 80 characters.");

const hostSchema = z
  .string()
  .trim()
  .min(1, "Enter a host name or IP address.")
  .max(253)
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._:-]+)$/,
    "Use a host name (db1.example.com) or an IP address, without a scheme or path.",
  )
  .transform((h) => h.toLowerCase().replace(/\.$/, ""));
const portSchema = wholeNumber(
  z
    .number("Enter a port from 1 to 65535.")
    .int("Use a whole number.")
    .min(1, "Use a port from 1 to 65535.")
    .max(65535, "Use a port from 1 to 65535."),
);
const usernameSchema = z
  .string()
  .trim()
  .min(1, "Enter a user name.")
  .max(64)
  .regex(/^[A-Za-z_][A-Za-z0-9_.@-]*$/, "Use letters, digits, '.', '_', '@' or '-', starting with a letter or '_'.");
export const absolutePathSchema = z
  .string()
  .trim()
  .min(1, "Enter a path.")
  .max(1024)
  .regex(/^\/[^\0\n\r]*$/, "Use an absolute path (starting with /), on one line.");
const privateKeySchema = z
  .string()
  .trim()
  .regex(
    /^-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----$/,
    "Paste the whole private key, from -----BEGIN … PRIVATE KEY----- to -----END … PRIVATE KEY-----.",
  );
/** An empty secret field on an edit form means "keep the stored one". */
const keep = <T extends z.ZodType>(s: T) => z.union([z.literal("").transform(() => undefined), s]).optional();

export const createServerSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("ssh"),
    name: nameSchema,
    host: hostSchema,
    port: portSchema.default(22),
    username: usernameSchema,
    authMethod: z.enum(["key", "password"]),
    privateKey: keep(privateKeySchema),
    passphrase: keep(z.string().max(1024)),
    password: keep(z.string().min(1).max(1024)),
    workDir: absolutePathSchema.default("/var/tmp"),
  }),
  z.object({ kind: z.literal("local"), name: nameSchema, workDir: absolutePathSchema.default("/var/tmp") }),
]);
export type CreateServerInput = z.infer<typeof createServerSchema>;

export const updateServerSchema = z.object({ serverId: idOf("srv", "server") }).and(createServerSchema);
export type UpdateServerInput = z.infer<typeof updateServerSchema>;

export const serverRefSchema = z.object({ serverId: idOf("srv", "server") });
export const acceptHostKeySchema = serverRefSchema.extend({
  fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, "Unknown fingerprint."),
});

// pg_dump/psql read a database name containing "=" or a URI as a whole connection string, which
// would bypass the host and port checked here.
const pgIdentifier = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `Enter the ${what}.`)
    .max(63, `PostgreSQL ${what}s are at most 63 characters.`)
    .refine(
      (s) => !s.includes("=") && !/^postgres(ql)?:/i.test(s) && !/[\0\n\r]/.test(s),
      `Enter a plain ${what}, not a connection string.`,
    );

/** The source kinds whose connection reaches a PostgreSQL (a cluster's through its maintenance database). */
export const databaseKinds = ["postgres", "postgres_cluster"] as const;
export const isDatabaseKind = (kind: string) => (databaseKinds as readonly string[]).includes(kind);

export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;

const pgConnectionFields = {
  name: nameSchema,
  pgHost: hostSchema.default("localhost"),
  pgPort: portSchema.default(5432),
  pgUser: pgIdentifier("user name"),
  pgPassword: keep(z.string().max(1024)),
  pgSslmode: z.enum(sslModes).default("prefer"),
  // SCRAM-only authentication unless the source opts out with false (absent: required).
  pgRequireScram: z.boolean().optional(),
};

const postgresSource = z.object({
  kind: z.literal("postgres"),
  pgDatabase: pgIdentifier("database name"),
  ...pgConnectionFields,
});

const lines = (what: string, item: z.ZodType<string>) =>
  z.preprocess(
    (v) =>
      typeof v === "string"
        ? v
            .split("\n")
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item).max(100, `Use at most 100 ${what}.`),
  );

const directorySource = z.object({
  kind: z.literal("directory"),
  name: nameSchema,
  paths: lines("paths", absolutePathSchema).pipe(
    z.array(z.string()).min(1, "Enter at least one absolute path, one per line."),
  ),
  excludes: lines(
    "patterns",
    z
      .string()
      .max(256)
      .regex(/^[^\0\r\n]+$/),
  ).default([]),
});

/** Every database of a PostgreSQL (listed at each run), its roles and tablespaces. */
const postgresClusterSource = z.object({
  kind: z.literal("postgres_cluster"),
  /** The database it connects to for the list of databases and the roles. */
  pgDatabase: pgIdentifier("maintenance database name").default("postgres"),
  ...pgConnectionFields,
  /** Databases left out; names that are not (or no longer) on the cluster are allowed, and listed by each run. */
  excludes: lines("databases", pgIdentifier("database name")).default([]),
  /** Include the roles' password hashes in globals.sql (needs read access to pg_authid). */
  pgRolePasswords: z.boolean().default(false),
});

const sourceKinds = z.discriminatedUnion("kind", [postgresSource, directorySource, postgresClusterSource]);
export const createSourceSchema = z.intersection(serverRefSchema, sourceKinds);
export type CreateSourceInput = z.infer<typeof createSourceSchema>;
export const sourceRefSchema = z.object({ sourceId: idOf("src", "source") });
export const updateSourceSchema = z.intersection(sourceRefSchema, sourceKinds);
export type UpdateSourceInput = z.infer<typeof updateSourceSchema>;

import { z } from "zod";

// The single place that reads process.env; everything else calls env().
const bool = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v === "true" || v === "1"));

const units: Record<string, number> = { "": 1, b: 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
/** A size such as 500MiB, 20GiB or a number of bytes; 0 means no limit (Infinity). */
const size = (name: string, fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const m = (v || fallback).trim().match(/^(\d+(?:\.\d+)?)\s*([a-z]*)$/i);
      const unit = m && units[m[2]!.toLowerCase()];
      if (!m || !unit) {
        ctx.addIssue({ code: "custom", message: `${name} must be a size such as 500MiB, 20GiB or 0 (no limit)` });
        return z.NEVER;
      }
      return Number(m[1]) * unit || Infinity;
    });

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATA_DIR: z.string().min(1).default("./.data"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "DATABASE_URL must start with postgres:// or postgresql://")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  MASTER_KEYS: z.string().optional(),
  AUTH_SECRET: z
    .string()
    .min(32, "AUTH_SECRET must be at least 32 characters")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  APP_URL: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.url("APP_URL must be an absolute URL such as https://coffer.example.com").default("http://localhost:3000"),
  ),
  TRUST_PROXY: bool,
  AUTH_GITHUB_ID: z.string().optional(),
  AUTH_GITHUB_SECRET: z.string().optional(),
  AUTH_GOOGLE_ID: z.string().optional(),
  AUTH_GOOGLE_SECRET: z.string().optional(),
  SMTP_URL: z.string().optional(),
  // Unset: on in development and tests, off in production.
  ALLOW_LOCAL_SERVERS: bool,
  ALLOW_PRIVATE_NETWORKS: bool,
  // Uploaded archives: the largest accepted, and how far one may expand when Coffer checks it.
  UPLOAD_MAX_SIZE: size("UPLOAD_MAX_SIZE", "20GiB"),
  UPLOAD_MAX_EXPANSION: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce
      .number("UPLOAD_MAX_EXPANSION must be a number such as 200")
      .min(2, "UPLOAD_MAX_EXPANSION must be at least 2")
      .default(200),
  ),
  // Seconds an upload may send nothing before it is refused (a stalled or trickling client).
  UPLOAD_IDLE_TIMEOUT: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce
      .number("UPLOAD_IDLE_TIMEOUT must be a number of seconds such as 60")
      .int("UPLOAD_IDLE_TIMEOUT must be a whole number of seconds")
      .min(1, "UPLOAD_IDLE_TIMEOUT must be at least 1 (second)")
      .default(60),
  ),
  // Seconds a backup's pg_dump waits for a table another session holds locked before the backup fails.
  BACKUP_LOCK_WAIT: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce
      .number("BACKUP_LOCK_WAIT must be a number of seconds such as 600")
      .int("BACKUP_LOCK_WAIT must be a whole number of seconds")
      .min(1, "BACKUP_LOCK_WAIT must be at least 1 (second)")
      .max(2_147_483, "BACKUP_LOCK_WAIT must be at most 2147483 (seconds; about 24 days)")
      .default(600),
  ),
  // Per team: what backups may take on "This host's disk" destinations (Coffer's own disk).
  LOCAL_STORAGE_QUOTA: size("LOCAL_STORAGE_QUOTA", "50GiB"),
  MAIL_FROM: z.string().default("Coffer <coffer@localhost>"),
  // An Inngest server runs the workflows when any of these is set; otherwise they run in-process.
  INNGEST_DEV: z.string().optional(),
  INNGEST_BASE_URL: z
    .url("INNGEST_BASE_URL must be a URL such as http://127.0.0.1:8288")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  INNGEST_EVENT_KEY: z.string().optional(),
  INNGEST_SIGNING_KEY: z.string().optional(),
  // Seconds a stopping instance (SIGTERM) lets running workflows finish before handing them back.
  SHUTDOWN_GRACE_PERIOD: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce
      .number("SHUTDOWN_GRACE_PERIOD must be a number of seconds such as 60")
      .min(0, "SHUTDOWN_GRACE_PERIOD must be 0 or more (seconds)")
      .default(60),
  ),
  // Tests only: where a backup run stops and waits to be killed (lib/jobs/test-pause.ts).
  COFFER_TEST_PAUSE: z.string().optional(),
  // Turns on the operators' metrics endpoint (/api/metrics), which answers only to this bearer token.
  METRICS_TOKEN: z
    .string()
    .min(32, "METRICS_TOKEN must be at least 32 characters (openssl rand -hex 32)")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  // The `coffer` command's API commands (backup, backups, download, restore, verify, status): where and as whom.
  COFFER_URL: z
    .url("COFFER_URL must be an absolute URL such as https://coffer.example.com")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  COFFER_TOKEN: z.string().optional(),
  // Requests one API token may make per minute (/api/v1); beyond it the API answers 429 with Retry-After.
  API_RATE_LIMIT_PER_MINUTE: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.coerce.number().int().min(1, "API_RATE_LIMIT_PER_MINUTE must be 1 or more").default(1200),
  ),
});

export type Env = Omit<z.infer<typeof schema>, "ALLOW_LOCAL_SERVERS" | "ALLOW_PRIVATE_NETWORKS"> & {
  /** Where workflows run: an Inngest server (dev server, self-hosted or Cloud), or this process. */
  workflows: "inngest" | "in-process";
  production: boolean;
  /** Servers of kind "local" (the Coffer host itself) may be added and used. */
  allowLocalServers: boolean;
  /** User-supplied hosts may resolve to loopback, private or link-local addresses. */
  allowPrivateNetworks: boolean;
};

let cached: Env | undefined;

/** Validated configuration. Parsed on first use so tests and scripts can set the environment first. */
export function env(): Env {
  if (!cached) {
    const parsed = schema.safeParse(process.env);
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
      throw new Error(`Invalid configuration:\n${lines.join("\n")}`);
    }
    const { ALLOW_LOCAL_SERVERS, ALLOW_PRIVATE_NETWORKS, ...rest } = parsed.data;
    const production = rest.NODE_ENV === "production";
    const inngestDev = !!rest.INNGEST_DEV && rest.INNGEST_DEV !== "0" && rest.INNGEST_DEV !== "false";
    const workflows =
      inngestDev || rest.INNGEST_BASE_URL || rest.INNGEST_EVENT_KEY || rest.INNGEST_SIGNING_KEY
        ? "inngest"
        : "in-process";
    // Without a signing key /api/inngest runs functions for anyone who calls it (dev mode).
    if (production && workflows === "inngest" && !rest.INNGEST_SIGNING_KEY) {
      throw new Error(
        "Invalid configuration:\n  INNGEST_SIGNING_KEY: required in production when workflows run on an Inngest server (INNGEST_DEV is for development only).",
      );
    }
    // Outside dev mode the SDK sends events only with a key: every Back up now and schedule would fail.
    if (production && workflows === "inngest" && !inngestDev && !rest.INNGEST_EVENT_KEY) {
      throw new Error(
        "Invalid configuration:\n  INNGEST_EVENT_KEY: required in production when workflows run on an Inngest server, which refuses events sent without it (every backup would fail to start).",
      );
    }
    cached = {
      ...rest,
      production,
      workflows,
      allowLocalServers: ALLOW_LOCAL_SERVERS ?? !production,
      allowPrivateNetworks: ALLOW_PRIVATE_NETWORKS ?? !production,
    };
  }
  return cached;
}

/**
 * Production must say where people open Coffer (APP_URL: e-mailed links, the request-origin
 * check and secure cookies follow it, and its default is localhost) and whether a trusted reverse
 * proxy reports client addresses (TRUST_PROXY=true) or not (TRUST_PROXY=false): without one Coffer
 * cannot know them, so per-address sign-in delays are off, and that should be a decision rather
 * than a default. Checked when the server starts (lib/startup), not while building.
 */
export function assertProductionDecided(e: Env = env()): void {
  if (!e.production) return;
  const missing: string[] = [];
  if (!process.env.APP_URL?.trim())
    missing.push(
      "APP_URL: required in production. Set it to the address people open Coffer at, such as https://coffer.example.com: links in e-mails and alerts, and the check that refuses requests from other sites, use it.",
    );
  if (e.TRUST_PROXY === undefined)
    missing.push(
      "TRUST_PROXY: required in production. Set TRUST_PROXY=true when Coffer runs behind one reverse proxy that appends the client's address to X-Forwarded-For, or TRUST_PROXY=false to acknowledge that it does not (then client addresses are not known: no per-address sign-in delays, no addresses in the audit log).",
    );
  if (missing.length) throw new Error(`Invalid configuration:\n  ${missing.join("\n  ")}`);
}

/**
 * What a local command inherits from Coffer's own environment. Everything else — above all
 * MASTER_KEYS, AUTH_SECRET, DATABASE_URL and cloud credentials — stays out of child processes;
 * secrets a command needs are passed to it explicitly.
 */
export function childProcessEnv(): Record<string, string> {
  const names = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SHELL"];
  return Object.fromEntries(names.flatMap((n) => (process.env[n] === undefined ? [] : [[n, process.env[n]!]])));
}

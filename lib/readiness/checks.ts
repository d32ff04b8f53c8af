import "server-only";
import { isNotNull, max, sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { bigint, pgSchema, serial, text } from "drizzle-orm/pg-core";
import { backups } from "@/db/schema";
import { migrationsFolder } from "@/db/client";
import { openStoredDataKey } from "../crypto/data-key";
import { keyring, type Keyring } from "../crypto/master-keys";
import { secretColumns } from "../crypto/rotate";
import { openSecret } from "../crypto/secret-box";
import { db, pgCode } from "../db";
import { env } from "../env";
import { dispatcherRegistered } from "../workflows/dispatch";
import type { CheckStatus } from "./cached-check";
import { formatCount } from "../format";

/** The table drizzle's migrator records applied migrations in (not part of Coffer's schema). */
const applied = pgSchema("drizzle").table("__drizzle_migrations", {
  id: serial("id"),
  hash: text("hash"),
  createdAt: bigint("created_at", { mode: "number" }),
});

const pass: CheckStatus = { ok: true };

/** The database answers a query. */
export async function databaseAnswers(): Promise<CheckStatus> {
  try {
    await (await db()).execute(sql`select 1`);
    return pass;
  } catch (cause) {
    return { ok: false, message: "the database does not answer", cause };
  }
}

let newestShipped: number | undefined;

/** Every migration this build ships is applied (a newer instance may have applied more). */
export async function migrationsApplied(): Promise<CheckStatus> {
  newestShipped ??= Math.max(0, ...readMigrationFiles({ migrationsFolder }).map((m) => m.folderMillis));
  try {
    const [row] = await (await db()).select({ newest: max(applied.createdAt) }).from(applied);
    const newest = Number(row?.newest ?? 0);
    return newest >= newestShipped ? pass : { ok: false, message: "migrations of this version are not applied" };
  } catch (cause) {
    if (pgCode(cause) === "42P01") return { ok: false, message: "no migrations are applied", cause };
    return { ok: false, message: "the applied migrations could not be read", cause };
  }
}

/**
 * The master keys are loaded and open what is stored: for every key id that sealed a secret
 * column or wrapped a backup's data key, one such value opens with the configured key of that id
 * (so a key id that is missing, or present with other key bytes, is found).
 */
export async function masterKeysOpenStoredValuesAllTeams(configured?: Keyring): Promise<CheckStatus> {
  let keys: Keyring;
  try {
    keys = configured ?? keyring();
  } catch (cause) {
    return { ok: false, message: "the master keys are not loaded", cause };
  }
  const d = await db();
  const missing = new Set<string>();
  const wrong = new Set<string>();
  for (const c of secretColumns()) {
    const keyId = sql<string>`split_part(${c.column}, ':', 2)`;
    const samples = (await d
      .selectDistinctOn([keyId], { id: c.id, teamId: c.teamId, value: c.column, keyId })
      .from(c.table)
      .where(isNotNull(c.column))) as { id: string; teamId: string; value: string; keyId: string }[];
    for (const s of samples) {
      if (!keys.byId.has(s.keyId)) missing.add(s.keyId);
      else
        try {
          openSecret(s.value, { teamId: s.teamId, table: c.tableName, column: c.columnName, rowId: s.id }, keys);
        } catch {
          wrong.add(s.keyId);
        }
    }
  }
  const deks = await d
    .selectDistinctOn([backups.dekKeyId], {
      id: backups.id,
      teamId: backups.teamId,
      wrapped: backups.dekWrapped,
      keyId: backups.dekKeyId,
    })
    .from(backups)
    .where(isNotNull(backups.dekWrapped));
  for (const s of deks) {
    if (!keys.byId.has(s.keyId!)) missing.add(s.keyId!);
    else
      try {
        openStoredDataKey(s.teamId, { id: s.id, dekWrapped: s.wrapped, dekKeyId: s.keyId }, keys).fill(0);
      } catch {
        wrong.add(s.keyId!);
      }
  }
  if (missing.size === 0 && wrong.size === 0) return pass;
  // Key ids are not secret, but they stay in the log: the endpoint answers anyone.
  const cause = new Error(
    `key ids not in MASTER_KEYS: ${[...missing].join(", ") || "none"}; key ids whose key does not open: ${[...wrong].join(", ") || "none"}`,
  );
  const parts = [
    missing.size &&
      `${formatCount(missing.size, "master key id")} that sealed stored values ${missing.size === 1 ? "is" : "are"} not in MASTER_KEYS`,
    wrong.size &&
      `${formatCount(wrong.size, "configured master key")} ${wrong.size === 1 ? "does" : "do"} not open what ${wrong.size === 1 ? "it" : "they"} sealed`,
  ].filter(Boolean);
  return { ok: false, message: parts.join("; "), cause };
}

/**
 * Whatever runs the workflows can take work: an engine registered with lib's dispatch port (the
 * in-process one when it started), and with an Inngest server, the server
 * at INNGEST_BASE_URL answers its /health. Inngest Cloud (no base URL) is not probed.
 */
export async function workflowEngineReachable(timeoutMs: number): Promise<CheckStatus> {
  const e = env();
  if (!dispatcherRegistered()) return { ok: false, message: "the workflow engine has not started" };
  if (e.workflows === "in-process") return pass;
  if (!e.INNGEST_BASE_URL) return { ok: true, message: "Inngest Cloud or a dev server: not probed" };
  try {
    const res = await fetch(new URL("/health", e.INNGEST_BASE_URL), { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok ? pass : { ok: false, message: `the Inngest server answers HTTP ${res.status}` };
  } catch (cause) {
    return { ok: false, message: "the Inngest server does not answer", cause };
  }
}

import "server-only";
import { and, asc, eq, getTableColumns, getTableName, gt, inArray, isNotNull, isTable, ne, sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import * as schema from "@/db/schema";
import { db } from "../db";
import { rewrapDek } from "./data-key";
import { keyring, type Keyring } from "./master-keys";
import { openSecret, sealSecret } from "./secret-box";

export interface SecretColumn {
  table: PgTable;
  tableName: string;
  column: PgColumn;
  columnName: string;
  id: PgColumn;
  teamId: PgColumn;
}

/** Every `*_enc` column of the schema (see db/columns.ts `secretColumn`). */
export function secretColumns(tables: readonly unknown[] = Object.values(schema)): SecretColumn[] {
  const found: SecretColumn[] = [];
  for (const table of tables) {
    if (!isTable(table)) continue;
    const columns = getTableColumns(table) as Record<string, PgColumn>;
    for (const column of Object.values(columns)) {
      if (!column.name.endsWith("_enc")) continue;
      const id = Object.values(columns).find((c) => c.name === "id");
      const teamId = Object.values(columns).find((c) => c.name === "team_id");
      if (!id || !teamId)
        throw new Error(
          `${getTableName(table)}.${column.name} is a secret column, so its table needs id and team_id columns.`,
        );
      found.push({
        table: table as PgTable,
        tableName: getTableName(table),
        column,
        columnName: column.name,
        id,
        teamId,
      });
    }
  }
  return found;
}

/** Key ids named by stored secrets that the keyring does not hold. Start-up refuses to run if any. */
export async function unknownKeyIdsInUseAllTeams(
  keys: Keyring = keyring(),
  columns = secretColumns(),
): Promise<string[]> {
  const d = await db();
  const missing = new Set<string>();
  for (const c of columns) {
    const rows = await d
      .selectDistinct({ keyId: sql<string>`split_part(${c.column}, ':', 2)` })
      .from(c.table)
      .where(isNotNull(c.column));
    for (const { keyId } of rows) if (!keys.byId.has(keyId)) missing.add(keyId);
  }
  const deks = await d
    .selectDistinct({ keyId: schema.backups.dekKeyId })
    .from(schema.backups)
    .where(isNotNull(schema.backups.dekKeyId));
  for (const { keyId } of deks) if (!keys.byId.has(keyId!)) missing.add(keyId!);
  return [...missing].sort();
}

/**
 * Re-wraps every backup's data key (the copy on its row) under the active master key, in batches
 * that commit on their own. The stored objects keep naming the key they were written with: see
 * `keysNamedByObjectsAllTeams`.
 */
export async function rewrapDataKeysAllTeams(opts: { batchSize?: number; keys?: Keyring } = {}): Promise<number> {
  const keys = opts.keys ?? keyring();
  const b = schema.backups;
  const d = await db();
  let total = 0;
  for (;;) {
    const batch = await d
      .select({ id: b.id, teamId: b.teamId, wrapped: b.dekWrapped, keyId: b.dekKeyId })
      .from(b)
      .where(and(isNotNull(b.dekWrapped), ne(b.dekKeyId, keys.active.id)))
      .orderBy(asc(b.id))
      .limit(opts.batchSize ?? 500);
    if (batch.length === 0) return total;
    await d.transaction(async (tx) => {
      for (const row of batch) {
        const fresh = rewrapDek(
          { keyId: row.keyId!, wrapped: Buffer.from(row.wrapped!, "base64") },
          keys,
          row.teamId,
          row.id,
        );
        await tx
          .update(b)
          .set({ dekWrapped: fresh.wrapped.toString("base64"), dekKeyId: fresh.keyId })
          .where(and(eq(b.id, row.id), eq(b.dekWrapped, row.wrapped!)));
      }
    });
    total += batch.length;
  }
}

/**
 * Master key ids that stored backup objects name in their headers, with how many objects name
 * each: those of succeeded backups (what start-up requires), and with `trashed` those in the trash
 * too, whose objects are still stored and can be put back (what the rotation script reports).
 */
export async function keysNamedByObjectsAllTeams(
  opts: { trashed?: boolean } = {},
): Promise<{ keyId: string; objects: number }[]> {
  const b = schema.backups;
  const d = await db();
  const rows = await d
    .select({ keyId: b.headerKeyId, objects: sql<number>`count(*)::int` })
    .from(b)
    .where(and(isNotNull(b.headerKeyId), inArray(b.status, opts.trashed ? ["succeeded", "trashed"] : ["succeeded"])))
    .groupBy(b.headerKeyId);
  return rows.map((r) => ({ keyId: r.keyId!, objects: r.objects }));
}

export interface RotationReport {
  activeKeyId: string;
  columns: { column: string; resealed: number }[];
  total: number;
}

/**
 * Re-seals every secret not yet under the active key, in batches that each commit on their own:
 * a run that dies half-way leaves every value readable, and the next run continues where it stopped.
 */
export async function rotateSecrets(
  opts: {
    batchSize?: number;
    keys?: Keyring;
    columns?: SecretColumn[];
    onBatch?: (column: string, resealed: number) => void;
  } = {},
): Promise<RotationReport> {
  const keys = opts.keys ?? keyring();
  const batchSize = opts.batchSize ?? 500;
  const d = await db();
  const report: RotationReport = { activeKeyId: keys.active.id, columns: [], total: 0 };
  for (const c of opts.columns ?? secretColumns()) {
    const label = `${c.tableName}.${c.columnName}`;
    let resealed = 0;
    let after = "";
    for (;;) {
      const batch = (await d
        .select({ id: c.id, teamId: c.teamId, value: c.column })
        .from(c.table)
        .where(and(isNotNull(c.column), ne(sql`split_part(${c.column}, ':', 2)`, keys.active.id), gt(c.id, after)))
        .orderBy(asc(c.id))
        .limit(batchSize)) as { id: string; teamId: string; value: string }[];
      if (batch.length === 0) break;
      await d.transaction(async (tx) => {
        for (const row of batch) {
          const ctx = { teamId: row.teamId, table: c.tableName, column: c.columnName, rowId: row.id };
          const fresh = sealSecret(openSecret(row.value, ctx, keys), ctx, keys);
          // Only if nobody changed the value meanwhile; a changed value is already under the active key.
          await tx
            .update(c.table)
            .set({ [columnKey(c)]: fresh })
            .where(and(eq(c.id, row.id), eq(c.column, row.value)));
        }
      });
      resealed += batch.length;
      after = batch[batch.length - 1]!.id;
      opts.onBatch?.(label, resealed);
    }
    report.columns.push({ column: label, resealed });
    report.total += resealed;
  }
  return report;
}

function columnKey(c: SecretColumn): string {
  const entry = Object.entries(getTableColumns(c.table)).find(([, col]) => col === c.column);
  return entry![0];
}

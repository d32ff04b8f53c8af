import { sql } from "drizzle-orm";
import { db } from "@/lib/db";

/**
 * A digest of every row of every table, per table: equal before and after means nothing was
 * written. Sessions are left out: reading one marks when it was last seen.
 */
export async function databaseFingerprint(): Promise<Record<string, string>> {
  const d = await db();
  const tables = (await d.execute(
    sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'user_sessions' order by 1`,
  )) as unknown as { name: string }[] | { rows: { name: string }[] };
  const names = (Array.isArray(tables) ? tables : tables.rows).map((r) => r.name);
  const out: Record<string, string> = {};
  for (const name of names) {
    const res = (await d.execute(
      sql`select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from ${sql.identifier(name)} t`,
    )) as unknown as { n: number; digest: string }[] | { rows: { n: number; digest: string }[] };
    const row = (Array.isArray(res) ? res : res.rows)[0]!;
    out[name] = `${row.n}:${row.digest}`;
  }
  return out;
}

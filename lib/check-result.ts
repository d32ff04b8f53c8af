import "server-only";
import { eq, sql } from "drizzle-orm";
import { servers, sources, storageDestinations } from "@/db/schema";
import { db } from "./db";
import { asAppError } from "./errors";
import { log } from "./log";
import { inTeam, type TeamContext } from "./teams/context";

export interface CheckResult {
  ok: boolean;
  /** One line for the list; says what to fix when not ok. */
  message: string;
  /** What was checked, for the server page. */
  facts: Record<string, string>;
}

/** Stores the outcome of a "Test" on its row, for lists and pages. */
export async function recordCheck(
  table: typeof servers | typeof sources | typeof storageDestinations,
  t: TeamContext,
  id: string,
  result: CheckResult,
) {
  const d = await db();
  await d
    .update(table)
    .set({ checkedAt: sql`now()`, checkOk: result.ok, checkMessage: result.message })
    .where(inTeam(table, t, eq(table.id, id)));
}

/** Runs a check; an AppError becomes a failed result with its message, anything else is logged. */
export async function checked(fn: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await fn();
  } catch (err) {
    const known = asAppError(err);
    if (known && known.code !== "NOT_FOUND" && known.code !== "FORBIDDEN")
      return { ok: false, message: known.message, facts: {} };
    if (!known) log.error("check failed", { error: err });
    throw err;
  }
}

/**
 * Saves, then runs the item's connection test: what only the network can tell (a wrong password,
 * an unreachable host) does not refuse the save, but shows on the item at once and stays there
 * until a later test passes.
 */
export async function savedThenTested<T extends { id: string }>(
  save: Promise<T>,
  test: (id: string) => Promise<CheckResult>,
): Promise<T & { check: CheckResult }> {
  const saved = await save;
  const check = await test(saved.id).catch((): CheckResult => ({
    ok: false,
    message: "Saved, but the test could not run: press Test to try again.",
    facts: {},
  }));
  return { ...saved, check };
}

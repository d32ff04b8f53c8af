import "server-only";
import { log } from "../log";
import { isStopping } from "../workflows/stopping";
import { CachedCheck, type CheckStatus } from "./cached-check";
import {
  databaseAnswers,
  masterKeysOpenStoredValuesAllTeams,
  migrationsApplied,
  workflowEngineReachable,
} from "./checks";

/**
 * What /api/ready answers: whether this instance can do its work. Each check keeps its last result
 * for a while and is never waited for longer than `budgetMs`, so a probe answers in well under
 * 100 ms even while a check is slow; a check that hangs for its `stallMs` counts as failed.
 */
export interface Readiness {
  ready: boolean;
  checks: Record<CheckName, { ok: boolean; message?: string }>;
}

type CheckName = "database" | "migrations" | "masterKeys" | "workflows";

const budgetMs = 50;
const checks: Record<CheckName, CachedCheck> = {
  database: new CachedCheck(databaseAnswers, { okTtlMs: 1_000, failTtlMs: 500, stallMs: 2_000 }),
  migrations: new CachedCheck(migrationsApplied, { okTtlMs: 10_000, failTtlMs: 1_000, stallMs: 2_000 }),
  // Reads one value per key id from every secret column: the most expensive, and changes rarely.
  masterKeys: new CachedCheck(masterKeysOpenStoredValuesAllTeams, {
    okTtlMs: 30_000,
    failTtlMs: 2_000,
    stallMs: 5_000,
  }),
  workflows: new CachedCheck(() => workflowEngineReachable(3_000), {
    okTtlMs: 5_000,
    failTtlMs: 1_000,
    stallMs: 3_000,
  }),
};

const lastOk = new Map<CheckName, boolean>();

export async function readiness(): Promise<Readiness> {
  const names = Object.keys(checks) as CheckName[];
  const results = await Promise.all(names.map((n) => checks[n].get(budgetMs)));
  const out = {} as Readiness["checks"];
  names.forEach((name, i) => {
    const r = results[i]!;
    logChange(name, r);
    out[name] = r.message === undefined ? { ok: r.ok } : { ok: r.ok, message: r.message };
  });
  // A stopping instance is out of the proxy's rotation at once: its runs are finishing or handed back.
  if (isStopping()) out.workflows = { ok: false, message: "this instance is stopping" };
  return { ready: results.every((r) => r.ok) && !isStopping(), checks: out };
}

/** Logs when a check starts or stops failing, not on every probe. */
function logChange(name: CheckName, r: CheckStatus) {
  if (lastOk.get(name) === r.ok) return;
  const first = !lastOk.has(name);
  lastOk.set(name, r.ok);
  if (!r.ok) log.warn("readiness check failing", { check: name, message: r.message, error: r.cause });
  else if (!first) log.info("readiness check passing again", { check: name });
}

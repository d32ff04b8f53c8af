import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sourceFiles, unscopedQueries } from "./tenancy-scan";

// STYLE.md: "Cross-team on purpose, by name". Every query of lib/ on a table with team_id carries
// inTeam(…) in the same statement, except in functions named …AllTeams (ticks, sweeps, rotation,
// readiness, tokens that name their team).
const root = path.resolve(import.meta.dirname, "..");
const scratch = mkdtempSync(path.join(tmpdir(), "coffer-tenancy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fixture(body: string): string {
  const file = path.join(scratch, `f${Math.random().toString(36).slice(2)}.ts`);
  const imports = [
    `import { and, eq } from "drizzle-orm";`,
    `import * as schema from ${JSON.stringify(path.join(root, "db/schema"))};`,
    `import { backups, teams } from ${JSON.stringify(path.join(root, "db/schema"))};`,
    `import { db } from ${JSON.stringify(path.join(root, "lib/db"))};`,
    `import { inTeam, type TeamContext } from ${JSON.stringify(path.join(root, "lib/teams/context"))};`,
  ];
  writeFileSync(
    file,
    `${imports.join("\n")}\nvoid and; void schema; void teams; void backups; void inTeam; void eq;\n${body}\n`,
  );
  return file;
}

describe("team conditions in lib's queries", () => {
  it("every query on a team table outside …AllTeams functions has inTeam in its statement", { timeout: 60_000 }, () => {
    expect(unscopedQueries(sourceFiles(path.join(root, "lib")), root)).toEqual([]);
  });

  it(
    "finds a query without it, through aliases too, and lets …AllTeams functions and other tables be",
    { timeout: 60_000 },
    () => {
      const files = [
        fixture(`export async function byId(id: string) {
  return (await db()).select().from(backups).where(eq(backups.id, id));
}`),
        fixture(`export async function aliased(id: string) {
  const b = schema.backups;
  await (await db()).update(b).set({ error: "x" }).where(eq(b.id, id));
}`),
        fixture(
          `export const wiped = async (teamId: string) => (await db()).delete(backups).where(eq(backups.teamId, teamId));`,
        ),
        fixture(`export async function scoped(t: TeamContext, id: string) {
  return (await db()).select().from(backups).where(inTeam(backups, t, eq(backups.id, id)));
}
export async function staleRunsAllTeams() {
  return (await db()).select().from(backups);
}
export async function teamBySlug(slug: string) {
  return (await db()).select().from(teams).where(eq(teams.slug, slug));
}`),
      ];
      const found = unscopedQueries(files, root).map((f) => `${f.fn} ${f.query}`);
      expect(found).toEqual(["byId from(backups)", "aliased update(b)", "wiped delete(backups)"]);
    },
  );
});

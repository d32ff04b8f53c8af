import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { inProcessEngine } from "@/inngest/in-process";
import { insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { newDataKey, wrapDek } from "../crypto/data-key";
import { keyring, parseMasterKeys, type Keyring } from "../crypto/master-keys";
import { createServer } from "../servers/mutations";
import {
  databaseAnswers,
  masterKeysOpenStoredValuesAllTeams,
  migrationsApplied,
  workflowEngineReachable,
} from "./checks";
import { markStopping } from "../workflows/stopping";
import { readiness } from "./readiness";

// The readiness checks against the real database (PostgreSQL, and PGlite in int-pglite). The
// database going away and coming back is shown through the built server (e2e/standalone.spec.ts).

const ring = (spec: string): Keyring => {
  const [key] = parseMasterKeys(spec);
  return { active: key!, byId: new Map([[key!.id, key!]]), source: "MASTER_KEYS" };
};
const someKey = () => randomBytes(32).toString("base64");

/** A server whose SSH password is sealed, and an encrypted backup of it whose data key is wrapped. */
async function storedSecrets(wrapWith: Keyring = keyring()) {
  const owner = await signedUpUser();
  const t = await owner.team("owner");
  const { id: serverId } = await createServer(t, {
    kind: "ssh",
    name: `ssh-${randomBytes(3).toString("hex")}`,
    host: "203.0.113.10",
    port: 22,
    username: "backup",
    authMethod: "password",
    password: "a-password-sealed-in-the-database",
    workDir: "/var/tmp",
  });
  const backupId = `bkp_${randomBytes(8).toString("hex")}`;
  const w = wrapDek(newDataKey(), wrapWith, t.id, backupId);
  await insertBackupRow({
    id: backupId,
    teamId: t.id,
    serverId,
    trigger: "manual",
    status: "succeeded",
    encrypted: true,
    fileName: "ssh-host-20260101-000000.tar.gz.enc",
    dekWrapped: w.wrapped.toString("base64"),
    dekKeyId: w.keyId,
  });
}

describe("readiness", () => {
  it("is ready with the database answering, migrations applied, keys opening what is stored and the engine started", async () => {
    await storedSecrets();
    expect(await databaseAnswers()).toEqual({ ok: true });
    expect(await migrationsApplied()).toEqual({ ok: true });
    expect(await masterKeysOpenStoredValuesAllTeams()).toEqual({ ok: true });
    expect(await workflowEngineReachable(1_000)).toEqual({
      ok: false,
      message: "the workflow engine has not started",
    });
    (await inProcessEngine()).stop();
    expect(await readiness()).toEqual({
      ready: true,
      checks: { database: { ok: true }, migrations: { ok: true }, masterKeys: { ok: true }, workflows: { ok: true } },
    });
  });

  it("fails when MASTER_KEYS lacks a key id that sealed stored values, or holds that id with other key bytes", async () => {
    await storedSecrets();
    const activeId = keyring().active.id;
    const lacking = await masterKeysOpenStoredValuesAllTeams(ring(`other-1:${someKey()}`));
    expect(lacking).toMatchObject({
      ok: false,
      message: "1 master key id that sealed stored values is not in MASTER_KEYS",
    });
    // Key ids go to the log only.
    expect(lacking.message).not.toContain(activeId);
    expect(String(lacking.cause)).toContain(activeId);

    // The same id with other bytes: what a mistyped MASTER_KEYS looks like.
    expect(await masterKeysOpenStoredValuesAllTeams(ring(`${activeId}:${someKey()}`))).toMatchObject({
      ok: false,
      message: "1 configured master key does not open what it sealed",
    });
  });

  it("fails when a backup's data key is wrapped under a key that is not configured", async () => {
    await storedSecrets(ring(`gone-7:${someKey()}`));
    const result = await masterKeysOpenStoredValuesAllTeams();
    expect(result).toMatchObject({
      ok: false,
      message: "1 master key id that sealed stored values is not in MASTER_KEYS",
    });
    expect(String(result.cause)).toContain("gone-7");
  });

  // Last: an instance does not come back from stopping.
  it("is not ready once the instance is stopping (SIGTERM), so the proxy sends nobody new to it", async () => {
    expect((await readiness()).ready).toBe(true);
    markStopping();
    expect(await readiness()).toEqual({
      ready: false,
      checks: {
        database: { ok: true },
        migrations: { ok: true },
        masterKeys: { ok: true },
        workflows: { ok: false, message: "this instance is stopping" },
      },
    });
  });
});

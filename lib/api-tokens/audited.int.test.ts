import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents } from "@/db/schema";
import { db } from "@/lib/db";
import { call, conforms } from "@/test/api-client";
import { signedUpUser } from "@/test/factories";
import * as auditLogRoute from "@/app/api/v1/audit-log/route";
import * as serversRoute from "@/app/api/v1/servers/route";
import { createApiToken, revokeApiToken } from "./tokens";

describe("what an API token does, in the audit log", () => {
  it("names the token by id and its creator, so a revoked token and a new one of the same name are told apart", async () => {
    const owner = await signedUpUser("Ida");
    const t = await owner.team("admin");
    const addServer = async (token: string, name: string) => {
      const r = await call(serversRoute.POST, "POST", "/servers", {
        token,
        json: { kind: "local", name, workDir: "/var/tmp" },
      });
      expect(r.status).toBe(201);
    };
    // "ci" leaks and is revoked; a new token takes its name.
    const leaked = await createApiToken(t, { name: "ci", scopes: ["admin"] });
    await addServer(leaked.token, "by the leaked token");
    await revokeApiToken(t, leaked.id);
    const renewed = await createApiToken(t, { name: "ci", scopes: ["admin"] });
    await addServer(renewed.token, "by the new token");

    const log = await call(auditLogRoute.GET, "GET", "/audit-log?action=server.created", { token: renewed.token });
    conforms("/audit-log", "get", log);
    const actors = Object.fromEntries(
      log.json.data.map((e: { targetLabel: string; actor: string }) => [e.targetLabel, e.actor]),
    );
    expect(actors).toEqual({
      "by the leaked token": `token ci (${leaked.id}, created by ${owner.email})`,
      "by the new token": `token ci (${renewed.id}, created by ${owner.email})`,
    });
    const csv = await call(auditLogRoute.GET, "GET", "/audit-log?format=csv&action=server.created", {
      token: renewed.token,
    });
    expect(csv.bytes.toString("utf8")).toContain(`token ci (${leaked.id}, created by ${owner.email})`);

    // Each row also keeps the creator's user id: the person on whose authority the token acted.
    const stored = await (
      await db()
    )
      .select({ actorUserId: auditEvents.actorUserId })
      .from(auditEvents)
      .where(and(eq(auditEvents.teamId, t.id), eq(auditEvents.action, "server.created")));
    expect(stored).toEqual([{ actorUserId: owner.userId }, { actorUserId: owner.userId }]);
  });
});

/**
 * /api/v1 webhooks: notification channels and their deliveries, through the route handlers with
 * real Request objects on real PostgreSQL, sending to a real receiver on 127.0.0.1; every JSON
 * answer is checked against the published OpenAPI document.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { env } from "@/lib/env";
import { createApiToken } from "@/lib/api-tokens/tokens";
import { listAuditEvents } from "@/lib/audit/queries";
import { deliverChannel } from "@/lib/webhooks/deliver";
import { listChannels, listDeliveries } from "@/lib/webhooks/queries";
import { call, conforms, seen } from "@/test/api-client";
import { signedUpUser } from "@/test/factories";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import * as webhooksRoute from "@/app/api/v1/webhooks/route";
import * as webhookRoute from "@/app/api/v1/webhooks/[channelId]/route";
import * as testRoute from "@/app/api/v1/webhooks/[channelId]/test/route";
import * as rotateRoute from "@/app/api/v1/webhooks/[channelId]/rotate-secret/route";
import * as deliveriesRoute from "@/app/api/v1/webhooks/[channelId]/deliveries/route";
import * as redeliverRoute from "@/app/api/v1/webhook-deliveries/[deliveryId]/redeliver/route";

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.stop());

/** A team with an admin-scope token and a read token, both made by its owner. */
async function arranged(name: string) {
  const user = await signedUpUser(name);
  const t = await user.team("admin");
  const { token, id } = await createApiToken(t, { name: "ops", scopes: ["read", "admin"] });
  const { token: read } = await createApiToken(t, { name: "dash", scopes: ["read"] });
  return { t, token, read, ops: `token ops (${id}, created by ${user.email})` };
}

describe("/api/v1/webhooks", () => {
  it("creates a signed endpoint (secret answered once), tests it, lists deliveries, redelivers, edits, rotates, deletes", async () => {
    const a = await arranged("HooksApi");
    const from = seen.length;
    const hook = "/api-hook?token=receiver-credential";
    const url = receiver.url(hook);
    const created = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: { kind: "webhook", url, description: "ci", events: ["backup.failed"] },
    });
    expect(created.status).toBe(201);
    conforms("/webhooks", "post", created);
    expect(created.json).toMatchObject({
      kind: "webhook",
      description: "ci",
      events: ["backup.failed"],
      enabled: true,
    });
    expect(created.json.urlHint).toBe(new URL(url).host);
    const secret = created.json.secret as string;
    expect(secret).toMatch(/^whsec_/);
    const channelId = created.json.id as string;
    const params = { channelId };

    const list = await call(webhooksRoute.GET, "GET", "/webhooks", { token: a.token });
    expect(list.status).toBe(200);
    conforms("/webhooks", "get", list);
    expect(list.json.data.map((c: { id: string }) => c.id)).toEqual([channelId]);
    const got = await call(webhookRoute.GET, "GET", `/webhooks/${channelId}`, { token: a.token, params });
    conforms("/webhooks/{channelId}", "get", got);
    const { secret: _, ...withoutSecret } = created.json;
    expect(got.json).toEqual(withoutSecret);

    // Send test: signed with the secret answered at creation; the answer says what came back.
    receiver.on(hook, { status: 200, body: "thanks" });
    const tested = await call(testRoute.POST, "POST", `/webhooks/${channelId}/test?type=backup.failed`, {
      token: a.token,
      params,
    });
    expect(tested.status).toBe(200);
    conforms("/webhooks/{channelId}/test", "post", tested);
    expect(tested.json).toMatchObject({ ok: true, status: 200, body: "thanks", error: null });
    const [first] = receiver.at(hook);
    expect(receiver.verify(secret, first!)).toBe(true);
    expect(JSON.parse(first!.body)).toMatchObject({ type: "backup.failed", test: true });

    const log = await call(deliveriesRoute.GET, "GET", `/webhooks/${channelId}/deliveries`, {
      token: a.token,
      params,
    });
    expect(log.status).toBe(200);
    conforms("/webhooks/{channelId}/deliveries", "get", log);
    expect(log.json.data).toEqual([
      expect.objectContaining({ type: "backup.failed", test: true, status: "succeeded", responseStatus: 200 }),
    ]);
    const deliveryId = log.json.data[0].id as string;

    const again = await call(redeliverRoute.POST, "POST", `/webhook-deliveries/${deliveryId}/redeliver`, {
      token: a.token,
      params: { deliveryId },
    });
    expect(again.status).toBe(202);
    conforms("/webhook-deliveries/{deliveryId}/redeliver", "post", again);
    expect(again.json).toEqual({ id: expect.stringMatching(/^dlv_/), redeliveryOf: deliveryId });
    await deliverChannel(a.t.id, channelId, 2_000);
    const [, second] = receiver.at(hook);
    expect(second!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    const succeeded = await call(deliveriesRoute.GET, "GET", `/webhooks/${channelId}/deliveries?status=succeeded`, {
      token: a.token,
      params,
    });
    expect(succeeded.json.data[0]).toMatchObject({ id: again.json.id, redeliveryOf: deliveryId });

    const edited = await call(webhookRoute.PUT, "PUT", `/webhooks/${channelId}`, {
      token: a.token,
      params,
      json: { url, description: "deploys", events: [], enabled: false },
    });
    expect(edited.status).toBe(200);
    conforms("/webhooks/{channelId}", "put", edited);
    expect(edited.json).toMatchObject({
      description: "deploys",
      events: [],
      enabled: false,
      urlHint: created.json.urlHint,
    });
    const [stored] = await listChannels(a.t);
    expect(stored).toMatchObject({ enabled: false, disabledReason: `Disabled by ${a.ops}.` });
    expect(JSON.stringify(stored)).not.toContain(url);

    const rotated = await call(rotateRoute.POST, "POST", `/webhooks/${channelId}/rotate-secret`, {
      token: a.token,
      params,
    });
    expect(rotated.status).toBe(200);
    conforms("/webhooks/{channelId}/rotate-secret", "post", rotated);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(secret);

    // Secrets appear in the answer that made them and nowhere else; the URL's credential never.
    const answers = seen.slice(from);
    expect(answers.filter((s) => s.includes(secret))).toHaveLength(1);
    expect(answers.filter((s) => s.includes(rotated.json.secret))).toHaveLength(1);
    expect(answers.join("\n")).not.toContain("receiver-credential");

    const deleted = await call(webhookRoute.DELETE, "DELETE", `/webhooks/${channelId}`, { token: a.token, params });
    expect(deleted.status).toBe(200);
    conforms("/webhooks/{channelId}", "delete", deleted);
    expect(await listChannels(a.t)).toEqual([]);
    const { events } = await listAuditEvents(a.t, { action: "channel." });
    expect(events.map((e) => `${e.action} by ${e.actor}`)).toEqual([
      `channel.deleted by ${a.ops}`,
      `channel.secret_rotated by ${a.ops}`,
      `channel.disabled by ${a.ops}`,
      `channel.updated by ${a.ops}`,
      `channel.created by ${a.ops}`,
    ]);
  });

  it("refuses a read token (403) on every write, answers another team's ids 404, and changes nothing", async () => {
    const a = await arranged("HooksA");
    const b = await arranged("HooksB");
    const made = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: { kind: "slack", url: receiver.url("/services/T000/B000/chat-credential"), events: [] },
    });
    expect(made.status).toBe(201);
    expect(made.json).not.toHaveProperty("secret");
    expect(JSON.stringify(made.json)).not.toContain("chat-credential");
    const channelId = made.json.id as string;
    const params = { channelId };
    await call(testRoute.POST, "POST", `/webhooks/${channelId}/test`, { token: a.token, params });
    const [delivery] = await listDeliveries(a.t, channelId);
    const before = { channels: await listChannels(a.t), deliveries: await listDeliveries(a.t, channelId) };

    const edit = { description: "x", events: [] };
    const dp = { deliveryId: delivery!.id };
    const writes = (token: string) => [
      () => call(webhookRoute.PUT, "PUT", `/webhooks/${channelId}`, { token, params, json: edit }),
      () => call(webhookRoute.DELETE, "DELETE", `/webhooks/${channelId}`, { token, params }),
      () => call(testRoute.POST, "POST", `/webhooks/${channelId}/test`, { token, params }),
      () => call(rotateRoute.POST, "POST", `/webhooks/${channelId}/rotate-secret`, { token, params }),
      () => call(redeliverRoute.POST, "POST", `/webhook-deliveries/${dp.deliveryId}/redeliver`, { token, params: dp }),
    ];
    for (const write of [
      ...writes(a.read),
      () => call(webhooksRoute.POST, "POST", "/webhooks", { token: a.read, json: { kind: "email", roles: ["owner"] } }),
    ]) {
      const r = await write();
      expect(r.status).toBe(403);
      expect(r.json.error.message).toMatch(/lacks the admin scope/);
    }
    const reads = (token: string) => [
      () => call(webhookRoute.GET, "GET", `/webhooks/${channelId}`, { token, params }),
      () => call(deliveriesRoute.GET, "GET", `/webhooks/${channelId}/deliveries`, { token, params }),
    ];
    // Channels are what the admin-only Webhooks page shows: a read-only token acts as a viewer.
    for (const request of [...reads(a.read), () => call(webhooksRoute.GET, "GET", "/webhooks", { token: a.read })]) {
      const r = await request();
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe("FORBIDDEN");
    }
    for (const request of [...writes(b.token), ...reads(b.token)]) {
      const r = await request();
      expect(r.status).toBe(404);
      conforms("/webhooks/{channelId}", "get", r);
      expect(r.json.error.code).toBe("NOT_FOUND");
    }
    expect({ channels: await listChannels(a.t), deliveries: await listDeliveries(a.t, channelId) }).toEqual(before);
    expect((await call(webhooksRoute.GET, "GET", "/webhooks", { token: b.token })).json).toEqual({ data: [] });

    const unknown = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: { kind: "webhook", url: receiver.url("/x"), colour: "red" },
    });
    expect(unknown.status).toBe(400);
    conforms("/webhooks", "post", unknown);
    const badEvent = await call(webhookRoute.PUT, "PUT", `/webhooks/${channelId}`, {
      token: a.token,
      params,
      json: { events: ["backup.exploded"] },
    });
    expect(badEvent.status).toBe(400);
    expect(badEvent.json.error.details.fields["body.events"]).toEqual([expect.stringMatching(/Unknown event/)]);
    expect(await listChannels(a.t)).toEqual(before.channels);
  });

  it("turns a channel off with PUT { enabled: false } alone, keeping its events, description and recipients, e-mail too", async () => {
    const a = await arranged("HooksSwitch");
    const hook = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: { kind: "webhook", url: receiver.url("/switch"), description: "ci", events: ["backup.failed"] },
    });
    const mail = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: {
        kind: "email",
        description: "ops",
        events: ["backup.failed"],
        roles: ["owner"],
        addresses: ["ops@example.test"],
      },
    });
    expect([hook.status, mail.status]).toEqual([201, 201]);
    for (const made of [hook, mail]) {
      const params = { channelId: made.json.id as string };
      const off = await call(webhookRoute.PUT, "PUT", `/webhooks/${params.channelId}`, {
        token: a.token,
        params,
        json: { enabled: false },
      });
      expect(off.status).toBe(200);
      conforms("/webhooks/{channelId}", "put", off);
      const { kind, description, events, urlHint, emailRoles, emailAddresses } = made.json;
      expect(off.json).toMatchObject({
        kind,
        description,
        events,
        urlHint,
        emailRoles,
        emailAddresses,
        enabled: false,
      });
      const on = await call(webhookRoute.PUT, "PUT", `/webhooks/${params.channelId}`, {
        token: a.token,
        params,
        json: { enabled: true, description: "renamed" },
      });
      expect(on.json).toMatchObject({ enabled: true, description: "renamed", events: ["backup.failed"] });
    }
    const [stored] = (await listChannels(a.t)).filter((c) => c.kind === "email");
    expect(stored).toMatchObject({ emailRoles: ["owner"], emailAddresses: ["ops@example.test"] });
    // A field of another kind of channel is refused, not ignored.
    const foreign = await call(webhookRoute.PUT, "PUT", `/webhooks/${hook.json.id}`, {
      token: a.token,
      params: { channelId: hook.json.id },
      json: { roles: ["owner"] },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.json.error.message).toBe("A webhook channel has no roles: leave it out.");
  });

  it("keeps an edit made while a PUT waited for the channel: the PUT reads what it changes under the row's lock", async () => {
    const a = await arranged("HooksRace");
    const made = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: { kind: "webhook", url: receiver.url("/race"), description: "before", events: ["backup.failed"] },
    });
    const params = { channelId: made.json.id as string };
    // Another session's edit holds the row until it commits.
    const other = postgres(env().DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      const put = await other.begin(async (sql) => {
        await sql`update notification_channels set description = 'edited meanwhile' where id = ${params.channelId}`;
        const pending = call(webhookRoute.PUT, "PUT", `/webhooks/${params.channelId}`, {
          token: a.token,
          params,
          json: { events: ["backup.succeeded"], enabled: false },
        });
        await vi.waitFor(
          async () => {
            await sql`select pg_stat_clear_snapshot()`; // statistics views hold still within a transaction
            const [w] =
              await sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%notification_channels%'`;
            expect(w!.n).toBe(1);
          },
          { timeout: 10_000 },
        );
        return { pending };
      });
      const changed = await put.pending;
      expect(changed.status).toBe(200);
      expect(changed.json).toMatchObject({
        description: "edited meanwhile",
        events: ["backup.succeeded"],
        enabled: false,
      });
    } finally {
      await other.end();
    }
  });

  it("refuses a body sent to rotate-secret, which takes none, and keeps the secret", async () => {
    const a = await arranged("HooksRotate");
    const made = await call(webhooksRoute.POST, "POST", "/webhooks", {
      token: a.token,
      json: { kind: "webhook", url: receiver.url("/rotate") },
    });
    const params = { channelId: made.json.id as string };
    const mine = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    const rotated = await call(rotateRoute.POST, "POST", `/webhooks/${params.channelId}/rotate-secret`, {
      token: a.token,
      params,
      json: { secret: mine },
    });
    expect(rotated.status).toBe(400);
    conforms("/webhooks/{channelId}/rotate-secret", "post", rotated);
    expect(rotated.json.error.details.fields).toEqual({
      "body.secret": ["This operation takes no body: send none (or {})."],
    });
    expect(JSON.stringify(rotated.json)).not.toContain(mine);
    const [stored] = await listChannels(a.t);
    expect(stored!.previousSecretUntil).toBeNull();
  });
});

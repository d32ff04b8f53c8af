import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@/test/ports";
import { ageDeliveries, makeDeliveriesDue, setChannelRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import { exampleData } from "../notifications/examples";
import { enqueue } from "../notifications/emit";
import type { EventType } from "../notifications/catalogue";
import type { TeamContext } from "../teams/context";
import { db } from "../db";
import { createChannel, rotateSecret, setChannelEnabled } from "./channels";
import { deliverChannel } from "./deliver";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from "./retries";
import { redeliver, sendTest } from "./deliveries";
import { BODY_LIMIT } from "./http";
import { pruneNotificationsAllTeams } from "./prune";
import { listChannels, listDeliveries } from "./queries";

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.stop());

const header = (r: { headers: Record<string, unknown> }, name: string) => String(r.headers[name]);

async function team() {
  const user = await signedUpUser("Hooks");
  return { user, t: await user.team("admin") };
}

/** A webhook endpoint on the receiver at `path`, taking every event. */
async function endpoint(t: TeamContext, path: string, extra: { events?: EventType[]; secret?: string } = {}) {
  const { id, secret } = await createChannel(t, {
    kind: "webhook",
    url: receiver.url(path),
    description: path,
    events: extra.events ?? [],
    secret: extra.secret,
  });
  return { id, secret: secret! };
}

/** An event produced through the outbox, as emit does once it has read its subject. */
const produce = (t: TeamContext, type: EventType = "backup.failed") =>
  enqueue(t, type, exampleData(type, `http://127.0.0.1/${t.slug}`), {});

const deliveries = (t: TeamContext, channelId: string) => listDeliveries(t, channelId);

describe("webhook delivery (Standard Webhooks)", () => {
  it("signs each delivery with the endpoint's secret and sends the event's JSON body", async () => {
    const { t } = await team();
    const ep = await endpoint(t, "/signed");
    const eventId = await produce(t, "backup.succeeded");
    expect(await deliverChannel(t.id, ep.id, 5_000)).toMatchObject({ attempted: 1, delivered: 1, failed: 0 });
    const [r] = receiver.at("/signed");
    expect(receiver.verify(ep.secret, r!)).toBe(true);
    expect(header(r!, "webhook-id")).toBe(eventId);
    expect(header(r!, "webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(header(r!, "content-type")).toBe("application/json");
    const body = JSON.parse(r!.body);
    expect(body).toMatchObject({ id: eventId, type: "backup.succeeded", version: 1, team: { id: t.id, slug: t.slug } });
    expect(body.data.backup.status).toBe("succeeded");
    const [logged] = await deliveries(t, ep.id);
    expect(logged).toMatchObject({
      status: "succeeded",
      attempts: 1,
      responseStatus: 200,
      responseBody: "ok",
      error: null,
    });
    expect(logged!.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("retries a 500 after 5 s in the same run, with the same webhook-id, and then counts the success", async () => {
    const { t } = await team();
    receiver.on("/flaky", { status: 500, body: "try later" }, { status: 204 });
    const ep = await endpoint(t, "/flaky");
    const eventId = await produce(t);
    const started = Date.now();
    expect(await deliverChannel(t.id, ep.id, 20_000)).toMatchObject({ attempted: 2, delivered: 1 });
    const got = receiver.at("/flaky");
    expect(got).toHaveLength(2);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[0]! - 100);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(got.map((r) => header(r, "webhook-id"))).toEqual([eventId, eventId]);
    expect(got.every((r) => receiver.verify(ep.secret, r))).toBe(true);
    expect((await deliveries(t, ep.id))[0]).toMatchObject({ status: "succeeded", attempts: 2, responseStatus: 204 });
  });

  it("a refused connection is retried with growing delays over more than a day, then fails for good", async () => {
    const { t } = await team();
    const port = await freePort(); // nothing listens here yet
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: `http://127.0.0.1:${port}/later`,
      description: "",
      events: [],
    });
    await produce(t);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await makeDeliveriesDue(id);
      const before = Date.now();
      await deliverChannel(t.id, id, 1_000);
      const [row] = await deliveries(t, id);
      expect(row).toMatchObject({ attempts: attempt, responseStatus: null });
      expect(row!.error).toContain("Connection refused by 127.0.0.1");
      if (attempt < MAX_ATTEMPTS) {
        expect(row!.status).toBe("pending");
        delays.push(row!.nextAttemptAt.getTime() - before);
      } else expect(row!.status).toBe("failed");
    }
    // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: each at least the one before, 27.6 h in all.
    delays.forEach((d, i) => expect(Math.abs(d - RETRY_DELAYS_MS[i]!)).toBeLessThan(2_000));
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThan(24 * 3600_000);

    // Once something listens there, Redeliver sends the same event again under the same id.
    const late = await startReceiver({ port });
    try {
      const [failed] = await deliveries(t, id);
      await redeliver(t, failed!.id);
      await deliverChannel(t.id, id, 2_000);
      const [again] = late.at("/later");
      expect(header(again!, "webhook-id")).toBe(failed!.eventId);
      expect((await deliveries(t, id))[0]).toMatchObject({ status: "succeeded", redeliveryOf: failed!.id });
    } finally {
      await late.stop();
    }
  });

  it("a receiver that does not answer within 10 s is retried later under the same id", async () => {
    const { t } = await team();
    receiver.on("/hang", { hang: true }, { status: 200 });
    const ep = await endpoint(t, "/hang");
    await produce(t);
    const started = Date.now();
    await deliverChannel(t.id, ep.id, 1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(Date.now() - started).toBeLessThan(13_000);
    expect((await deliveries(t, ep.id))[0]).toMatchObject({
      status: "pending",
      error: expect.stringContaining("No answer from 127.0.0.1"),
    });
    await makeDeliveriesDue(ep.id);
    await deliverChannel(t.id, ep.id, 1_000);
    const got = receiver.at("/hang");
    expect(got.map((r) => header(r, "webhook-id"))).toEqual([
      header(got[0]!, "webhook-id"),
      header(got[0]!, "webhook-id"),
    ]);
    expect((await deliveries(t, ep.id))[0]).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  it("does not follow a redirect: the 302 is logged as a failure and its target is never called", async () => {
    const { t } = await team();
    receiver.on("/moved", { redirect: receiver.url("/elsewhere") });
    const ep = await endpoint(t, "/moved");
    await produce(t);
    await deliverChannel(t.id, ep.id, 1_000);
    expect(receiver.at("/elsewhere")).toHaveLength(0);
    expect((await deliveries(t, ep.id))[0]).toMatchObject({
      status: "pending",
      responseStatus: 302,
      error: expect.stringContaining("redirects are not followed"),
    });
  });

  it("reads 4 KiB of a 10 MB answer and moves on; waits for a slow one; a reset connection is a clear failure", async () => {
    const { t } = await team();
    receiver.on("/big", { big: 10 * 1024 * 1024 });
    receiver.on("/slow", { status: 200, body: "took a while", delayMs: 3_000 });
    receiver.on("/reset", { reset: true });
    const big = await endpoint(t, "/big");
    const slow = await endpoint(t, "/slow");
    const reset = await endpoint(t, "/reset");
    await produce(t);
    const started = Date.now();
    await Promise.all([
      deliverChannel(t.id, big.id, 1_000),
      deliverChannel(t.id, slow.id, 1_000),
      deliverChannel(t.id, reset.id, 1_000),
    ]);
    expect(Date.now() - started).toBeLessThan(6_000);
    const [slowly] = await listDeliveries(t, slow.id);
    expect(slowly).toMatchObject({ status: "succeeded", responseBody: "took a while" });
    expect(slowly!.latencyMs).toBeGreaterThanOrEqual(3_000);
    const [ok] = await listDeliveries(t, big.id);
    expect(ok).toMatchObject({ status: "succeeded", responseStatus: 200 });
    expect(ok!.responseBody!.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect((await deliveries(t, reset.id))[0]).toMatchObject({
      status: "pending",
      attempts: 1,
      error: expect.stringContaining("reset the connection"),
    });
  });

  it("rotating the secret signs with both secrets for a day, then with the new one only", async () => {
    const { t } = await team();
    const ep = await endpoint(t, "/rotate");
    const rotated = await rotateSecret(t, ep.id);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(ep.secret);
    expect(rotated.overlapUntil.getTime() - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    await produce(t);
    await deliverChannel(t.id, ep.id, 1_000);
    const [during] = receiver.at("/rotate");
    expect(header(during!, "webhook-signature").split(" ")).toHaveLength(2);
    expect(receiver.verify(ep.secret, during!)).toBe(true);
    expect(receiver.verify(rotated.secret, during!)).toBe(true);

    await setChannelRow(ep.id, { previousSecretUntil: new Date(Date.now() - 1000) }); // the day has passed
    await produce(t);
    await deliverChannel(t.id, ep.id, 1_000);
    const after = receiver.at("/rotate")[1]!;
    expect(header(after, "webhook-signature").split(" ")).toHaveLength(1);
    expect(receiver.verify(rotated.secret, after)).toBe(true);
    expect(receiver.verify(ep.secret, after)).toBe(false);
  });

  it("one dead endpoint does not delay a healthy one", async () => {
    const { t } = await team();
    receiver.on("/dead", { hang: true });
    const dead = await endpoint(t, "/dead");
    const healthy = await endpoint(t, "/healthy");
    for (let i = 0; i < 4; i++) await produce(t);
    const started = Date.now();
    let healthyDone = 0;
    await Promise.all([
      deliverChannel(t.id, dead.id, 1_000),
      deliverChannel(t.id, healthy.id, 5_000).then(() => (healthyDone = Date.now() - started)),
    ]);
    expect(receiver.at("/healthy")).toHaveLength(4);
    expect(healthyDone).toBeLessThan(3_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000); // the dead one waited out its timeouts
    expect((await listDeliveries(t, dead.id, { status: "pending" })).length).toBe(4);
  });

  it("Send test sends a sample and shows what came back; it is logged and never retried", async () => {
    const { t } = await team();
    receiver.on("/test", { status: 202, body: "thanks" });
    const ep = await endpoint(t, "/test");
    const result = await sendTest(t, ep.id, "verification.failed");
    expect(result).toMatchObject({ ok: true, status: 202, body: "thanks", error: null });
    const [r] = receiver.at("/test");
    expect(JSON.parse(r!.body)).toMatchObject({ type: "verification.failed", test: true });
    expect(receiver.verify(ep.secret, r!)).toBe(true);
    receiver.on("/test", { status: 500 });
    expect(await sendTest(t, ep.id)).toMatchObject({ ok: false, status: 500 });
    const log = await deliveries(t, ep.id);
    expect(log.map((l) => [l.test, l.status])).toEqual([
      [true, "failed"],
      [true, "succeeded"],
    ]);
  });

  it("Send test is sent once and answered by the request that asked, while a delivery run works on the channel", async () => {
    const { t } = await team();
    const ep = await endpoint(t, "/busy");
    // A run that claims every 20 ms for 3 s: 150 deliveries come due one after another.
    for (let i = 0; i < 150; i++) await produce(t, "backup.succeeded");
    await (
      await db()
    ).execute(sql`update notification_deliveries d set next_attempt_at = now() + n.k * interval '20 milliseconds'
      from (select id, row_number() over (order by id) as k from notification_deliveries where channel_id = ${ep.id}) n
      where d.id = n.id`);
    let running = true;
    const run = deliverChannel(t.id, ep.id, 5_000).finally(() => (running = false));
    const answers: unknown[] = [];
    while (running) answers.push(await sendTest(t, ep.id).catch((err: Error) => err.message));
    await run;
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.filter((a) => !(a as { ok?: boolean }).ok)).toEqual([]);
    const tests = receiver.at("/busy").filter((r) => JSON.parse(r.body).test);
    expect(new Set(tests.map((r) => header(r, "webhook-id"))).size).toBe(tests.length);
    expect(tests).toHaveLength(answers.length);
    expect(receiver.at("/busy")).toHaveLength(150 + answers.length);
  });

  it("an endpoint only gets the events it asked for; a disabled one gets none", async () => {
    const { t } = await team();
    const only = await endpoint(t, "/only-restores", { events: ["restore.failed"] });
    const off = await endpoint(t, "/off");
    await setChannelEnabled(t, off.id, false);
    await produce(t, "backup.failed");
    await produce(t, "restore.failed");
    await deliverChannel(t.id, only.id, 1_000);
    await deliverChannel(t.id, off.id, 1_000);
    expect(receiver.at("/only-restores").map((r) => JSON.parse(r.body).type)).toEqual(["restore.failed"]);
    expect(receiver.at("/off")).toHaveLength(0);
  });

  it("keeps the delivery log 30 days", async () => {
    const { t } = await team();
    const old = await endpoint(t, "/old");
    const fresh = await endpoint(t, "/fresh");
    await produce(t);
    await Promise.all([deliverChannel(t.id, old.id, 1_000), deliverChannel(t.id, fresh.id, 1_000)]);
    await ageDeliveries(old.id, 31);
    const pruned = await pruneNotificationsAllTeams();
    expect(pruned.deliveries).toBeGreaterThanOrEqual(1);
    expect(await deliveries(t, old.id)).toHaveLength(0);
    expect(await deliveries(t, fresh.id)).toHaveLength(1);
  });

  it("lists channels without any secret, and another team sees none of them", async () => {
    const { t } = await team();
    const ep = await endpoint(t, "/listed");
    const [view] = await listChannels(t);
    expect(view).toMatchObject({ id: ep.id, kind: "webhook", urlHint: `127.0.0.1:${receiver.port}` });
    expect(JSON.stringify(view)).not.toContain(receiver.url("/listed"));
    expect(JSON.stringify(view)).not.toContain(ep.secret);
    expect(Object.keys(view!)).not.toContain("secretEnc");
    const other = await team();
    expect(await listChannels(other.t)).toHaveLength(0);
    expect(await listDeliveries(other.t, ep.id)).toHaveLength(0);
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createInvitation, acceptInvitation } from "@/lib/teams/invitations";
import { eq } from "drizzle-orm";
import { notificationChannels, notificationDeliveries } from "@/db/schema";
import {
  insertChannelRow,
  makeDeliveriesDue,
  markEmailVerified,
  setChannelRow,
  setDeliveryAttempts,
} from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import { listAuditEvents } from "../audit/queries";
import type { UserContext } from "../auth/users";
import { enqueue } from "../notifications/emit";
import { exampleData } from "../notifications/examples";
import { setMutedMail } from "../notifications/preferences";
import { teamForUser, type TeamContext } from "../teams/context";
import { db } from "../db";
import {
  createChannel,
  deleteChannel,
  rotateSecret,
  sealPlainWebhookUrlsAllTeams,
  setChannelEnabled,
  updateChannel,
} from "./channels";
import { newSigningSecret, sealChannelSecret } from "./secrets";
import { deliverChannel } from "./deliver";
import { MAX_ATTEMPTS } from "./retries";
import { redeliver, sendTest } from "./deliveries";
import { DISABLE_AFTER_FAILED } from "./health";
import { listChannels, listDeliveries } from "./queries";
import { createChannelSchema } from "./schemas";

let smtp: Awaited<ReturnType<typeof startSmtp>>;
let receiver: Receiver;
/** Recipients the mail server answers "451 try again later" for now. */
const deferring = new Set<string>();
/** Whether the mail server refuses Coffer's sender address for now. */
let senderRefused = false;

beforeAll(async () => {
  smtp = await startSmtp({
    refuse: (a) => a.startsWith("bounce"),
    defer: (a) => deferring.has(a),
    refuseSender: () => senderRefused,
  });
  receiver = await startReceiver();
  // Before anything reads the configuration: this file runs with e-mail configured.
  process.env.SMTP_URL = smtp.url;
  process.env.MAIL_FROM = "Coffer <coffer@example.test>";
});
afterAll(async () => {
  await Promise.all([smtp?.stop(), receiver?.stop()]);
});

const produce = (t: TeamContext, type: Parameters<typeof exampleData>[0] = "backup.failed") =>
  enqueue(t, type, exampleData(type, `http://127.0.0.1/${t.slug}`), {});
const userOf = (u: Awaited<ReturnType<typeof signedUpUser>>): UserContext => ({
  userId: u.userId,
  email: u.email,
  name: "x",
  sessionId: null,
  ip: null,
});

/** A team with an owner, an admin and a member (who joined by invitation). */
async function crew() {
  const owner = await signedUpUser("Olga");
  const t = await owner.team("owner");
  const join = async (name: string, role: "admin" | "member") => {
    const person = await signedUpUser(name);
    const inv = await createInvitation(t, { email: person.email, role });
    await acceptInvitation(person.actor, person.email, inv.link.split("/").at(-1)!);
    return person;
  };
  return { owner, t, admin: await join("Adam", "admin"), member: await join("Mia", "member") };
}

describe("e-mail channels", () => {
  it("e-mails the chosen roles and addresses through SMTP, without those who opted out", async () => {
    const { owner, t, admin, member } = await crew();
    await setMutedMail(userOf(admin), { muted: ["backup.failed"] });
    const { id } = await createChannel(t, {
      kind: "email",
      description: "ops mail",
      events: ["backup.failed", "backup.succeeded"],
      roles: ["owner", "admin"],
      addresses: ["oncall@example.test", member.email],
    });
    await setMutedMail(userOf(member), { muted: ["backup.failed"] }); // a listed address that is a member who opted out
    const before = smtp.messages.length;
    await produce(t, "backup.failed");
    await deliverChannel(t.id, id, 2_000);
    const mails = smtp.messages.slice(before);
    expect(mails.flatMap((m) => m.to).sort()).toEqual([owner.email, "oncall@example.test"].sort());
    const [mail] = mails;
    expect(mail!.from).toBe("coffer@example.test");
    expect(mail!.subject).toBe(`[Coffer] Backup failed: db-1 (nightly) — ${t.name}`);
    expect(mail!.text).toContain("Error: Reading of shop (db-1) failed: permission denied for table payments.");
    expect(mail!.text).toContain(`Open in Coffer: http://127.0.0.1/${t.slug}/backups/`);
    expect(mail!.text).toContain("Choose which e-mails you get: http://localhost:3000/account");
    const [logged] = await listDeliveries(t, id);
    expect(logged).toMatchObject({ status: "succeeded", error: null });
    expect(logged!.responseBody).toContain("Sent to 2 recipients");

    // The admin still gets what they did not opt out of.
    const next = smtp.messages.length;
    await produce(t, "backup.succeeded");
    await deliverChannel(t.id, id, 2_000);
    expect(
      smtp.messages
        .slice(next)
        .flatMap((m) => m.to)
        .sort(),
    ).toEqual([owner.email, admin.email, "oncall@example.test", member.email].sort());
  });

  it("e-mails members of the chosen roles only once their address is confirmed", async () => {
    const owner = await signedUpUser("Una", { verified: false });
    const t = await owner.team("owner");
    const { id } = await createChannel(t, {
      kind: "email",
      description: "ops mail",
      events: ["backup.failed"],
      roles: ["owner"],
      addresses: ["oncall@example.test"],
    });
    const sentTo = async () => {
      const before = smtp.messages.length;
      await produce(t, "backup.failed");
      await deliverChannel(t.id, id, 2_000);
      return smtp.messages
        .slice(before)
        .flatMap((m) => m.to)
        .sort();
    };
    expect(await sentTo()).toEqual(["oncall@example.test"]);
    await markEmailVerified(owner.userId);
    expect(await sentTo()).toEqual([owner.email, "oncall@example.test"].sort());
  });

  it("a recipient the server refuses is reported, the others still get it", async () => {
    const { t } = await crew();
    const { id } = await createChannel(t, {
      kind: "email",
      description: "",
      events: [],
      roles: [],
      addresses: ["bounce@example.test", "ok@example.test"],
    });
    await produce(t);
    await deliverChannel(t.id, id, 2_000);
    const [logged] = await listDeliveries(t, id);
    expect(logged).toMatchObject({ status: "succeeded" });
    expect(logged!.responseBody).toMatch(/Sent to 1 recipient.*Refused: bounce@example\.test \(550/);
  });

  it("a recipient the server defers (451) gets the alert on a retry, and nobody gets it twice", async () => {
    const { t } = await crew();
    const { id } = await createChannel(t, {
      kind: "email",
      description: "",
      events: [],
      roles: [],
      addresses: ["first@example.test", "bounce@example.test", "grey@example.test", "third@example.test"],
    });
    const before = smtp.messages.length;
    const received = () =>
      smtp.messages
        .slice(before)
        .flatMap((m) => m.to)
        .sort();
    deferring.add("grey@example.test");
    await produce(t);
    await deliverChannel(t.id, id, 1_000);
    expect(received()).toEqual(["first@example.test", "third@example.test"]);
    const [waiting] = await listDeliveries(t, id);
    expect(waiting).toMatchObject({
      status: "pending",
      error: "The mail server deferred grey@example.test (451 Greylisted, try again later).",
    });
    // Others got it: the channel works, even if that mailbox stays deferred for days.
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: null });

    deferring.delete("grey@example.test");
    await makeDeliveriesDue(id);
    await deliverChannel(t.id, id, 1_000);
    expect(received()).toEqual(["first@example.test", "grey@example.test", "third@example.test"]);
    const [done] = await listDeliveries(t, id);
    // The refused address was not tried again: the retry sent to the deferred one alone.
    expect(done).toMatchObject({ status: "succeeded", attempts: 2, error: null });
    expect(done!.responseBody).toMatch(/^Sent to 1 recipient: 250 /);
  });
  it("a sender the mail server refuses fails no recipient: the alert waits for a retry and goes once the setup is fixed", async () => {
    const { t } = await crew();
    const { id } = await createChannel(t, {
      kind: "email",
      description: "",
      events: [],
      roles: [],
      addresses: ["first@example.test", "second@example.test"],
    });
    const before = smtp.messages.length;
    senderRefused = true;
    try {
      await produce(t);
      await deliverChannel(t.id, id, 1_000);
    } finally {
      senderRefused = false;
    }
    expect(smtp.messages.length).toBe(before);
    const [waiting] = await listDeliveries(t, id);
    expect(waiting).toMatchObject({ status: "pending", attempts: 1 });
    expect(waiting!.error).toMatch(/553 Sender address rejected/);
    expect(waiting!.nextAttemptAt).not.toBeNull();

    await makeDeliveriesDue(id);
    await deliverChannel(t.id, id, 1_000);
    expect(
      smtp.messages
        .slice(before)
        .flatMap((m) => m.to)
        .sort(),
    ).toEqual(["first@example.test", "second@example.test"]);
    expect((await listDeliveries(t, id))[0]).toMatchObject({ status: "succeeded", attempts: 2 });
  });
});

describe("chat channels", () => {
  it("posts a message formatted for Slack, Discord and Microsoft Teams, and never shows their URLs", async () => {
    const { t } = await crew();
    const ids: Record<string, string> = {};
    for (const kind of ["slack", "discord", "teams"] as const)
      ids[kind] = (
        await createChannel(t, {
          kind,
          url: receiver.url(`/chat/${kind}/T0SECRET/B0SECRET/xoxsecret`),
          description: kind,
          events: [],
        })
      ).id;
    await produce(t, "backup.failed");
    for (const id of Object.values(ids)) await deliverChannel(t.id, id, 2_000);
    const body = (kind: string) => JSON.parse(receiver.at(`/chat/${kind}/T0SECRET/B0SECRET/xoxsecret`)[0]!.body);

    const slack = body("slack");
    expect(slack.text).toBe("Backup failed: db-1 (nightly)");
    expect(slack.blocks[0].text.text).toContain(`|Backup failed: db-1 (nightly)>*`);
    expect(slack.blocks[1].fields.map((f: { text: string }) => f.text)).toEqual(
      expect.arrayContaining(["*Server*\ndb-1", "*Duration*\n1 min 13 s"]),
    );
    expect(slack.blocks[2].text.text).toContain("permission denied for table payments");

    const discord = body("discord");
    expect(discord.allowed_mentions).toEqual({ parse: [] });
    expect(discord.embeds[0]).toMatchObject({ title: "Backup failed: db-1 (nightly)", color: 0xdc2626 });
    expect(discord.embeds[0].url).toContain(`/${t.slug}/backups/`);
    expect(discord.embeds[0].description).toContain("permission denied");

    const teams = body("teams");
    const card = teams.attachments[0];
    expect(card.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card.content.body[0]).toMatchObject({
      type: "TextBlock",
      text: "Backup failed: db-1 (nightly)",
      color: "Attention",
    });
    expect(card.content.body[1].facts).toEqual(expect.arrayContaining([{ title: "Server", value: "db-1" }]));
    expect(card.content.actions[0]).toMatchObject({ type: "Action.OpenUrl", title: "Open in Coffer" });

    const views = await listChannels(t);
    expect(views.map((v) => v.urlHint)).toEqual(Array(3).fill(`127.0.0.1:${receiver.port}`));
    expect(JSON.stringify(views)).not.toContain("xoxsecret");

    // A name written as a Slack mention or link is shown as typed, in the text as in the blocks.
    const hostile = exampleData("backup.failed", `http://127.0.0.1/${t.slug}`);
    hostile.server.name = "<!channel> & <https://evil.test|db>";
    await enqueue(t, "backup.failed", hostile, {});
    await deliverChannel(t.id, ids.slack!, 2_000);
    const named = JSON.parse(receiver.at("/chat/slack/T0SECRET/B0SECRET/xoxsecret")[1]!.body);
    const shown = "&lt;!channel&gt; &amp; &lt;https://evil.test|db&gt;";
    expect(named.text).toBe(`Backup failed: ${shown} (nightly)`);
    expect(named.blocks[0].text.text).toContain(`|Backup failed: ${shown} (nightly)>*`);
    expect(JSON.stringify(named)).not.toMatch(/<!channel>|<https:\/\/evil/);
  });
});

describe("webhook URLs", () => {
  it("are stored sealed and shown by host only, yet delivered to exactly; one saved in plain text before is sealed at start", async () => {
    const { t } = await crew();
    const path = "/hook?token=SEALEDTOKEN";
    const { id } = await createChannel(t, { kind: "webhook", url: receiver.url(path), description: "", events: [] });
    await produce(t);
    await deliverChannel(t.id, id, 2_000);
    expect(receiver.at(path)).toHaveLength(1);
    const [stored] = await (
      await db()
    )
      .select({ url: notificationChannels.url, urlEnc: notificationChannels.urlEnc })
      .from(notificationChannels)
      .where(eq(notificationChannels.id, id));
    expect(stored).toMatchObject({ url: null, urlEnc: expect.any(String) });
    expect(stored!.urlEnc).not.toContain("SEALEDTOKEN");
    const views = await listChannels(t);
    expect(views.find((v) => v.id === id)!.urlHint).toBe(`127.0.0.1:${receiver.port}`);
    expect(JSON.stringify(views)).not.toContain("SEALEDTOKEN");

    // A channel an earlier Coffer saved with its URL in plain text.
    const legacy = "chn_legacyplainurl0000000000";
    const plainPath = "/hook?token=PLAINTOKEN";
    await insertChannelRow({ id: legacy, teamId: t.id, kind: "webhook", url: receiver.url(plainPath) });
    await setChannelRow(legacy, { secretEnc: sealChannelSecret(t.id, legacy, "secret_enc", newSigningSecret()) });
    // And one today's rules refuse (user and password in it): sealed too, never stopping the start.
    const refused = "chn_legacyrefusedurl00000000";
    await insertChannelRow({ id: refused, teamId: t.id, kind: "webhook", url: "https://u:p@example.test/x" });
    expect(await sealPlainWebhookUrlsAllTeams()).toBe(2);
    expect(await sealPlainWebhookUrlsAllTeams()).toBe(0);
    expect((await listChannels(t)).find((c) => c.id === refused)!.urlHint).toBe("example.test");
    const [sealed] = await (
      await db()
    )
      .select({ url: notificationChannels.url, urlHint: notificationChannels.urlHint })
      .from(notificationChannels)
      .where(eq(notificationChannels.id, legacy));
    expect(sealed).toEqual({ url: null, urlHint: `127.0.0.1:${receiver.port}` });
    await produce(t);
    await deliverChannel(t.id, legacy, 2_000);
    expect(receiver.at(plainPath)).toHaveLength(1);
  });
});

describe("a channel that keeps failing", () => {
  it("is disabled after 3 days of failures: pending deliveries fail, admins are e-mailed once, the audit log says so", async () => {
    const { owner, t, admin, member } = await crew();
    receiver.on("/down", { status: 503, body: "maintenance" });
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: receiver.url("/down"),
      description: "down",
      events: [],
    });
    await produce(t);
    await produce(t);
    await deliverChannel(t.id, id, 1_000);
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: expect.any(Date) });

    await setMutedMail(userOf(admin), { muted: ["channel.disabled"] });
    await setChannelRow(id, { failingSince: new Date(Date.now() - 3 * 86_400_000 - 60_000) });
    await setDeliveryAttempts(id, MAX_ATTEMPTS - 1);
    await produce(t); // a new event, its retries ahead
    const before = smtp.messages.length;
    await deliverChannel(t.id, id, 1_000); // deliveries failing for good after three days

    const [view] = await listChannels(t);
    expect(view).toMatchObject({ enabled: false, disabledReason: expect.stringContaining("Last error: Answered 503") });
    const log = await listDeliveries(t, id);
    expect(log.every((l) => l.status === "failed")).toBe(true);
    expect(log.some((l) => l.error?.includes("disabled after failing repeatedly"))).toBe(true);
    const mails = smtp.messages.slice(before);
    expect(mails.flatMap((m) => m.to)).toEqual([owner.email]); // the admin opted out; members are not told
    expect(mails.flatMap((m) => m.to)).not.toContain(member.email);
    expect(mails[0]!.subject).toBe(`[Coffer] Notification channel "down" was disabled — ${t.name}`);
    expect(mails[0]!.text).toContain(`/${t.slug}/webhooks`);
    const audit = await listAuditEvents(t, { action: "channel.auto_disabled" });
    expect(audit.events).toHaveLength(1);

    // Nothing more goes to it until an admin enables it again; then Redeliver sends a missed event.
    await produce(t);
    expect(await deliverChannel(t.id, id, 1_000)).toMatchObject({ attempted: 0 });
    receiver.on("/down", { status: 200 });
    await setChannelEnabled(t, id, true);
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: null, failedInRow: 0 });
    await redeliver(t, log[0]!.id);
    expect(await deliverChannel(t.id, id, 1_000)).toMatchObject({ delivered: 1 });
    expect(smtp.messages.length - before).toBe(1);
  });

  it("a successful Send test after the endpoint was fixed ends its failing period, so a later failure does not disable it", async () => {
    const { t } = await crew();
    receiver.on("/mended", { status: 503 });
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: receiver.url("/mended"),
      description: "mended",
      events: [],
    });
    await setChannelRow(id, { failingSince: new Date(Date.now() - 30 * 86_400_000) }); // failed for good a month ago
    expect(await sendTest(t, id)).toMatchObject({ ok: false });
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: expect.any(Date) });
    receiver.on("/mended", { status: 200 });
    expect(await sendTest(t, id)).toMatchObject({ ok: true });
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: null });
    receiver.on("/mended", { status: 503 });
    await produce(t);
    await deliverChannel(t.id, id, 1_000);
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: expect.any(Date) });
  });

  it("an event on a channel that last failed days ago still gets its retries: one bad minute of the receiver does not disable it", async () => {
    const { t } = await crew();
    receiver.on("/rare", { status: 503 });
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: receiver.url("/rare"),
      description: "rare",
      events: ["backup.failed"],
    });
    // Its last delivery failed for good 4 days ago, in a failing period that began a day earlier.
    await produce(t);
    await setDeliveryAttempts(id, MAX_ATTEMPTS - 1);
    await deliverChannel(t.id, id, 1_000);
    const longAgo = new Date(Date.now() - 4 * 86_400_000);
    await (
      await db()
    )
      .update(notificationDeliveries)
      .set({ lastAttemptAt: longAgo })
      .where(eq(notificationDeliveries.channelId, id));
    await setChannelRow(id, { failingSince: new Date(longAgo.getTime() - 86_400_000) });

    // The next backup failure meets the receiver mid-deploy: one 503, then it answers again.
    receiver.on("/rare", { status: 503 }, { status: 200 });
    await produce(t);
    expect(await deliverChannel(t.id, id, 20_000)).toMatchObject({ attempted: 2, delivered: 1 });
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true, failingSince: null, disabledReason: null });
    expect((await listDeliveries(t, id))[0]).toMatchObject({ status: "succeeded", attempts: 2, responseStatus: 200 });
  });

  it("after 3 days of failures, an attempt with retries left does not disable it; a delivery failing for good does", async () => {
    const { t } = await crew();
    receiver.on("/still-down", { status: 503 });
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: receiver.url("/still-down"),
      description: "",
      events: [],
    });
    await setChannelRow(id, { failingSince: new Date(Date.now() - 3 * 86_400_000 - 60_000) });
    await produce(t);
    await setDeliveryAttempts(id, 3); // its fourth attempt, due now
    await deliverChannel(t.id, id, 1_000);
    expect((await listChannels(t))[0]).toMatchObject({ enabled: true });
    await setDeliveryAttempts(id, MAX_ATTEMPTS - 1); // its last
    await deliverChannel(t.id, id, 1_000);
    expect((await listChannels(t))[0]).toMatchObject({ enabled: false });
  });

  it(`is disabled after ${DISABLE_AFTER_FAILED} deliveries in a row failed for good`, async () => {
    const { t } = await crew();
    receiver.on("/gone", { status: 410 });
    const { id } = await createChannel(t, { kind: "webhook", url: receiver.url("/gone"), description: "", events: [] });
    await setChannelRow(id, { failedInRow: DISABLE_AFTER_FAILED - 1, failingSince: new Date() });
    await produce(t);
    await setDeliveryAttempts(id, MAX_ATTEMPTS - 1); // its last attempt fails for good: the hundredth in a row
    await deliverChannel(t.id, id, 1_000);
    expect((await listChannels(t))[0]).toMatchObject({ enabled: false });
  });
});

describe("bad input", () => {
  it("refuses an invalid URL, an unknown event name and a secret that is not whsec_, saying what to fix", async () => {
    const { t } = await crew();
    await expect(
      createChannel(t, { kind: "webhook", url: "not a url", description: "", events: [] }),
    ).rejects.toMatchObject({ code: "VALIDATION", fieldErrors: { url: [expect.stringContaining("full URL")] } });
    await expect(
      createChannel(t, { kind: "webhook", url: "ftp://example.test/x", description: "", events: [] }),
    ).rejects.toMatchObject({ code: "VALIDATION", message: expect.stringContaining("https://") });
    await expect(
      createChannel(t, { kind: "slack", url: "https://user:pw@example.test/x", description: "", events: [] }),
    ).rejects.toMatchObject({
      code: "VALIDATION",
      fieldErrors: { url: [expect.stringContaining("user and password")] },
    });

    const unknown = createChannelSchema.safeParse({
      kind: "webhook",
      url: "https://e.test",
      events: ["backup.exploded"],
    });
    expect(unknown.error?.issues[0]?.message).toMatch(
      /^Unknown event "backup\.exploded"\. Choose from: backup\.succeeded/,
    );
    const badSecret = createChannelSchema.safeParse({ kind: "webhook", url: "https://e.test", secret: "hunter2" });
    expect(badSecret.error?.issues[0]?.message).toContain("whsec_");
    const shortSecret = createChannelSchema.safeParse({
      kind: "webhook",
      url: "https://e.test",
      secret: "whsec_c2hvcnQ=",
    });
    expect(shortSecret.error?.issues[0]?.message).toContain("24 to 64 random bytes");
    const noRecipients = createChannelSchema.safeParse({ kind: "email" });
    expect(noRecipients.error?.issues[0]).toMatchObject({ path: ["roles"] });
    expect(await listChannels(t)).toHaveLength(0);
  });

  it("accepts an admin's own whsec_ secret, and signs with it", async () => {
    const { t } = await crew();
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const parsed = createChannelSchema.parse({ kind: "webhook", url: receiver.url("/own"), secret });
    const { id } = await createChannel(t, parsed);
    await sendTest(t, id);
    expect(receiver.verify(secret, receiver.at("/own")[0]!)).toBe(true);
  });

  it("never writes a secret or a chat URL to the log, an error or a result", async () => {
    const { t } = await crew();
    const lines: string[] = [];
    const spies = (["log", "warn", "error"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" "))),
    );
    try {
      receiver.on("/chat/slack/SECRETPATH?token=SECRETQUERY", { status: 500, body: "nope" });
      const chat = await createChannel(t, {
        kind: "slack",
        url: receiver.url("/chat/slack/SECRETPATH?token=SECRETQUERY"),
        description: "",
        events: [],
      });
      const hook = await createChannel(t, {
        kind: "webhook",
        url: "http://127.0.0.1:9/refused",
        description: "",
        events: [],
      });
      const rotated = await rotateSecret(t, hook.id);
      await produce(t);
      const results = [
        await deliverChannel(t.id, chat.id, 500),
        await deliverChannel(t.id, hook.id, 500),
        await sendTest(t, chat.id),
        await sendTest(t, hook.id),
      ];
      const seen = [
        ...lines,
        JSON.stringify(results),
        JSON.stringify(await listChannels(t)),
        JSON.stringify(await listDeliveries(t, chat.id)),
        JSON.stringify(await listDeliveries(t, hook.id)),
        JSON.stringify(await listAuditEvents(t, {})),
      ].join("\n");
      for (const secret of ["SECRETPATH", "SECRETQUERY", hook.secret!, rotated.secret, hook.secret!.slice(6)])
        expect(seen).not.toContain(secret);
      expect(seen).toContain("Answered 500");
      expect(seen).toContain("Connection refused by 127.0.0.1:9");
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});

describe("who may manage channels", () => {
  it("admins only; another team's channel does not exist for them", async () => {
    const { t, member } = await crew();
    const { id } = await createChannel(t, { kind: "webhook", url: receiver.url("/mine"), description: "", events: [] });
    const asMember = await teamForUser(member.actor, t.slug);
    await expect(listChannels(asMember)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(
      createChannel(asMember, { kind: "webhook", url: receiver.url("/x"), description: "", events: [] }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(sendTest(asMember, id)).rejects.toMatchObject({ code: "FORBIDDEN" });

    const other = await (await signedUpUser("Eve")).team("owner");
    await expect(sendTest(other, id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(rotateSecret(other, id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(setChannelEnabled(other, id, false)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      updateChannel(other, {
        channelId: id,
        description: "",
        events: [],
        roles: [],
        addresses: [],
        url: receiver.url("/x"),
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(deleteChannel(other, id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await produce(t);
    const [delivery] = await listDeliveries(t, id);
    await expect(redeliver(other, delivery!.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await listChannels(t)).toHaveLength(1);
  });
});

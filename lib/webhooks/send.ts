import "server-only";
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { memberships, notificationPreferences, users } from "@/db/schema";
import { COFFER_VERSION } from "../backups/version";
import { db } from "../db";
import { env } from "../env";
import { sendMailEach } from "../mail";
import type { Envelope } from "../notifications/catalogue";
import { chatBody } from "../notifications/chat";
import { emailOf } from "../notifications/messages";
import type { Role } from "../teams/roles";
import { post, type HttpOutcome } from "./http";
import { openChannelSecret } from "./secrets";
import { parseTarget, type Target } from "./target";
import { inTeam } from "../teams/context";
import { formatCount } from "../format";

/** A channel as a delivery needs it (sealed columns included: this never leaves lib). */
export interface SendingChannel {
  id: string;
  teamId: string;
  kind: "webhook" | "email" | "slack" | "discord" | "teams";
  urlEnc: string | null;
  secretEnc: string | null;
  previousSecretEnc: string | null;
  previousSecretUntil: Date | null;
  emailRoles: Role[];
  emailAddresses: string[];
}

/**
 * One attempt of one event to one channel (`done`: the e-mail recipients earlier attempts reached
 * or had refused for good). Never throws: every failure is an outcome with a message.
 */
export async function attempt(
  channel: SendingChannel,
  event: { id: string; body: string },
  done: { sent: string[]; refused: string[] } = { sent: [], refused: [] },
): Promise<HttpOutcome> {
  try {
    if (channel.kind === "email") return await sendEmail(channel, JSON.parse(event.body) as Envelope, done);
    const url = parseTarget(openChannelSecret(channel.teamId, channel.id, "url_enc", channel.urlEnc!));
    if (channel.kind === "webhook") return await sendWebhook(channel, url, event);
    return await post(url, chatBody(channel.kind, JSON.parse(event.body) as Envelope), {
      "content-type": "application/json",
      "user-agent": `Coffer/${COFFER_VERSION}`,
    });
  } catch (err) {
    // Only a broken row (a secret that does not open) gets here; its message names no secret.
    return { ok: false, status: null, body: null, latencyMs: 0, error: (err as Error).message, permanent: true };
  }
}

/**
 * Standard Webhooks: `webhook-id` is the event's id on every attempt, and `webhook-signature` is
 * `v1,<HMAC-SHA256 of id.timestamp.body>` for the current secret and, for a day after a
 * rotation, the previous one too (space-separated).
 */
function sendWebhook(channel: SendingChannel, url: Target, event: { id: string; body: string }) {
  const now = new Date();
  const secrets = [openChannelSecret(channel.teamId, channel.id, "secret_enc", channel.secretEnc!)];
  if (channel.previousSecretEnc && channel.previousSecretUntil && channel.previousSecretUntil > now)
    secrets.push(openChannelSecret(channel.teamId, channel.id, "previous_secret_enc", channel.previousSecretEnc));
  return post(url, event.body, {
    "content-type": "application/json",
    "user-agent": `Coffer-Webhooks/${COFFER_VERSION}`,
    "webhook-id": event.id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(event.id, now, event.body)).join(" "),
  });
}

/**
 * Who an e-mail channel reaches for an event: members of the chosen roles whose address is
 * confirmed and the chosen addresses, without the team's members who opted out of this event type
 * (Account → Notification e-mails).
 *
 * A chosen address whose account is not in the channel's team is mailed like any outside address,
 * whatever that account muted: opt-outs are stored per person but apply to the teams they belong
 * to, and honouring one here would tell this team's admins (delivery log, Send test's answer)
 * that the address has a Coffer account and which events it muted.
 */
export async function recipients(
  channel: Pick<SendingChannel, "teamId" | "emailRoles" | "emailAddresses">,
  type: string,
) {
  const d = await db();
  const muted = sql`coalesce(${notificationPreferences.muted}, '[]'::jsonb) @> ${JSON.stringify([type])}::jsonb`;
  const members = channel.emailRoles.length
    ? await d
        .select({ email: users.email, muted: sql<boolean>`${muted}` })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .leftJoin(notificationPreferences, eq(notificationPreferences.userId, users.id))
        .where(
          and(
            inTeam(memberships, { id: channel.teamId }),
            inArray(memberships.role, channel.emailRoles),
            isNotNull(users.emailVerifiedAt),
          ),
        )
    : [];
  const listed = channel.emailAddresses.length
    ? await d
        .select({ email: users.email })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .innerJoin(notificationPreferences, eq(notificationPreferences.userId, users.id))
        .where(and(inTeam(memberships, { id: channel.teamId }), inArray(users.email, channel.emailAddresses), muted))
    : [];
  const optedOut = new Set([...members.filter((m) => m.muted).map((m) => m.email), ...listed.map((u) => u.email)]);
  return [...new Set([...members.map((m) => m.email), ...channel.emailAddresses])].filter((a) => !optedOut.has(a));
}

async function sendEmail(
  channel: SendingChannel,
  e: Envelope,
  done: { sent: string[]; refused: string[] },
): Promise<HttpOutcome> {
  const started = Date.now();
  const outcome = (o: Partial<HttpOutcome>): HttpOutcome => ({
    ok: false,
    status: null,
    body: null,
    error: null,
    permanent: false,
    ...o,
    latencyMs: Date.now() - started,
  });
  try {
    // Inside the try: a failed look-up of the recipients is retried like a failed send.
    const all = await recipients(channel, e.type);
    if (!all.length) return outcome({ ok: true, body: "Nobody to e-mail: every recipient opted out of this event." });
    // A retry leaves out whoever an earlier attempt is done with: nobody gets the same alert twice.
    const to = all.filter((a) => !done.sent.includes(a) && !done.refused.includes(a));
    if (!to.length) return outcome({ ok: true, body: "Every recipient was handled by an earlier attempt." });
    const report = await sendMailEach(to, emailOf(e, `${env().APP_URL.replace(/\/+$/, "")}/account`));
    if (!report)
      return outcome({
        permanent: true,
        error: "E-mail is not configured on this Coffer: the operator sets SMTP_URL (and MAIL_FROM).",
      });
    const list = (rs: { to: string; response: string }[]) => rs.map((r) => `${r.to} (${r.response})`).join("; ");
    const refused = list(report.refused);
    const deferred = list(report.deferred);
    // Someone has it, now or from an earlier attempt: the channel works.
    const reached = report.accepted.length > 0 || done.sent.length > 0;
    return outcome({
      ok: reached,
      incomplete: reached && !!deferred,
      body: `Sent to ${formatCount(report.accepted.length, "recipient")}: ${report.response}${refused ? `. Refused: ${refused}` : ""}${deferred ? `. Deferred: ${deferred}` : ""}`,
      error: deferred
        ? `The mail server deferred ${deferred}.`
        : reached
          ? null
          : `The mail server refused every recipient: ${refused}`,
      // Nobody has it and nobody is left to try again.
      permanent: !reached && !deferred,
      done: { sent: report.accepted, refused: report.refused.map((r) => r.to) },
    });
  } catch (err) {
    const { code, response } = err as { code?: string; response?: string };
    return outcome({ error: `Could not send e-mail (${code ?? "error"}${response ? `: ${response}` : ""}).` });
  }
}

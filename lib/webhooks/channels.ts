import "server-only";
import { and, eq, isNotNull } from "drizzle-orm";
import { notificationChannels, notificationDeliveries } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db, type Database, type Transaction } from "../db";
import { AppError, notFound } from "../errors";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import type { ChangeChannelInput, CreateChannelInput, UpdateChannelInput } from "./schemas";
import { newSigningSecret, openChannelSecret, ROTATION_OVERLAP_MS, sealChannelSecret } from "./secrets";
import { parseTarget, resolveTarget } from "./target";

/** Parses and checks a URL as it is saved: a bad one is refused with a message on the URL field. */
async function checkedTarget(raw: string) {
  const target = parseTarget(raw);
  await resolveTarget(target);
  return target;
}

/** Creates a channel. A webhook's signing secret is returned this once; only its sealed form is kept. */
export async function createChannel(
  t: TeamContext,
  input: CreateChannelInput,
): Promise<{ id: string; secret?: string }> {
  assertRole(t, "admin");
  const id = newId("chn");
  const values: typeof notificationChannels.$inferInsert = {
    id,
    teamId: t.id,
    kind: input.kind,
    description: input.description,
    events: input.events,
    createdBy: t.actor.label,
  };
  let secret: string | undefined;
  if (input.kind === "email") {
    values.emailRoles = input.roles;
    values.emailAddresses = input.addresses;
  } else {
    const target = await checkedTarget(input.url);
    values.urlHint = target.hint;
    values.urlEnc = sealChannelSecret(t.id, id, "url_enc", target.url.toString());
    if (input.kind === "webhook") {
      secret = input.secret ?? newSigningSecret();
      values.secretEnc = sealChannelSecret(t.id, id, "secret_enc", secret);
    }
  }
  const d = await db();
  await d.transaction(async (tx) => {
    await tx.insert(notificationChannels).values(values);
    await recordAudit(tx, t, {
      action: "channel.created",
      target: { type: "channel", id, label: label(values) },
      details: { kind: input.kind, events: input.events.length ? input.events : "all" },
    });
  });
  return { id, secret };
}

const label = (c: { kind: string; description?: string | null; urlHint?: string | null }) =>
  c.description || (c.kind === "email" ? "e-mail" : `${c.kind} ${c.urlHint ?? ""}`.trim());

/** The channel's stored settings, its row locked until the transaction ends. */
async function lockedChannel(tx: Transaction, t: TeamContext, channelId: string) {
  const [row] = await tx
    .select({
      kind: notificationChannels.kind,
      description: notificationChannels.description,
      urlHint: notificationChannels.urlHint,
      events: notificationChannels.events,
      enabled: notificationChannels.enabled,
      emailRoles: notificationChannels.emailRoles,
      emailAddresses: notificationChannels.emailAddresses,
    })
    .from(notificationChannels)
    .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)))
    .for("update");
  if (!row) throw notFound("That channel");
  return row;
}

type Stored = Awaited<ReturnType<typeof lockedChannel>>;
type Target = Awaited<ReturnType<typeof checkedTarget>>;

/** A channel's kind, which never changes: read before anything slow, such as resolving a URL. */
async function kindOf(t: TeamContext, channelId: string): Promise<string> {
  const d = await db();
  const [row] = await d
    .select({ kind: notificationChannels.kind })
    .from(notificationChannels)
    .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)));
  if (!row) throw notFound("That channel");
  return row.kind;
}

export async function updateChannel(t: TeamContext, input: UpdateChannelInput): Promise<{ id: string }> {
  assertRole(t, "admin");
  // Resolved before the row is locked: a slow DNS answer holds no lock.
  const target = input.url && (await kindOf(t, input.channelId)) !== "email" ? await checkedTarget(input.url) : null;
  const d = await db();
  await d.transaction(async (tx) => writeSettings(tx, t, await lockedChannel(tx, t, input.channelId), input, target));
  return { id: input.channelId };
}

async function writeSettings(
  tx: Transaction,
  t: TeamContext,
  current: Stored,
  input: UpdateChannelInput,
  target: Target | null,
): Promise<void> {
  const set: Partial<typeof notificationChannels.$inferInsert> = {
    description: input.description,
    events: input.events,
  };
  if (current.kind === "email") {
    if (input.roles.length + input.addresses.length === 0)
      throw new AppError("VALIDATION", "Choose at least one role or enter at least one address.", {
        roles: ["Choose at least one role or enter at least one address."],
      });
    set.emailRoles = input.roles;
    set.emailAddresses = input.addresses;
  } else if (target) {
    set.urlHint = target.hint;
    set.urlEnc = sealChannelSecret(t.id, input.channelId, "url_enc", target.url.toString());
    set.url = null;
  }
  await tx
    .update(notificationChannels)
    .set(set)
    .where(inTeam(notificationChannels, t, eq(notificationChannels.id, input.channelId)));
  await recordAudit(tx, t, {
    action: "channel.updated",
    target: { type: "channel", id: input.channelId, label: label({ ...current, ...set }) },
    details: { events: input.events.length ? input.events : "all", urlChanged: !!target },
  });
}

/**
 * The API's change of a channel: what it leaves out keeps what is stored, so `{ "enabled": false }`
 * only turns the channel off. Fields of another kind of channel (an e-mail channel's url, a webhook's
 * roles) are refused rather than ignored. One transaction on the locked row: an edit made meanwhile
 * is neither undone by this one's stale copy nor half applied.
 */
export async function changeChannel(t: TeamContext, channelId: string, input: ChangeChannelInput): Promise<void> {
  assertRole(t, "admin");
  const { enabled, ...settings } = input;
  const kind = await kindOf(t, channelId);
  const foreign = (kind === "email" ? ["url"] : ["roles", "addresses"]).filter(
    (k) => settings[k as keyof typeof settings] !== undefined,
  );
  if (foreign.length) {
    const message = `A${kind === "email" ? "n e-mail" : ` ${kind}`} channel has no ${foreign.join(" or ")}: leave ${foreign.length > 1 ? "them" : "it"} out.`;
    throw new AppError("VALIDATION", message, Object.fromEntries(foreign.map((k) => [k, [message]])));
  }
  const target = settings.url ? await checkedTarget(settings.url) : null;
  const d = await db();
  await d.transaction(async (tx) => {
    const current = await lockedChannel(tx, t, channelId);
    if (Object.values(settings).some((v) => v !== undefined))
      await writeSettings(
        tx,
        t,
        current,
        {
          channelId,
          url: settings.url,
          description: settings.description ?? current.description ?? "",
          events: settings.events ?? current.events,
          roles: settings.roles ?? current.emailRoles,
          addresses: settings.addresses ?? current.emailAddresses,
        },
        target,
      );
    if (enabled !== undefined && enabled !== current.enabled) await writeEnabled(tx, t, channelId, enabled);
  });
}

/**
 * Turns a channel on or off. Enabling forgets its failures; disabling fails what was still waiting
 * for it (Redeliver sends any of them again).
 */
export async function setChannelEnabled(t: TeamContext, channelId: string, enabled: boolean): Promise<void> {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction((tx) => writeEnabled(tx, t, channelId, enabled));
}

async function writeEnabled(tx: Transaction, t: TeamContext, channelId: string, enabled: boolean): Promise<void> {
  const [row] = await tx
    .update(notificationChannels)
    .set(
      enabled
        ? { enabled, failingSince: null, failedInRow: 0, disabledAt: null, disabledReason: null }
        : // Turned off on purpose: no longer "failing" (metrics tell it from a channel Coffer disabled).
          {
            enabled,
            disabledAt: new Date(),
            disabledReason: `Disabled by ${t.actor.label}.`,
            failingSince: null,
            failedInRow: 0,
          },
    )
    .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)))
    .returning({
      kind: notificationChannels.kind,
      description: notificationChannels.description,
      urlHint: notificationChannels.urlHint,
    });
  if (!row) throw notFound("That channel");
  if (!enabled) await failPending(tx, t.id, channelId, "Not sent: the channel was disabled.");
  await recordAudit(tx, t, {
    action: enabled ? "channel.enabled" : "channel.disabled",
    target: { type: "channel", id: channelId, label: label(row) },
  });
}

/** Ends every delivery still waiting for a channel, with `reason` as its error. */
export async function failPending(tx: Database | Transaction, teamId: string, channelId: string, reason: string) {
  await tx
    .update(notificationDeliveries)
    .set({ status: "failed", error: reason })
    .where(
      and(
        inTeam(notificationDeliveries, { id: teamId }),
        eq(notificationDeliveries.channelId, channelId),
        eq(notificationDeliveries.status, "pending"),
      ),
    );
}

/**
 * A new signing secret, returned this once. The previous one keeps signing alongside it for
 * ROTATION_OVERLAP_MS (each delivery carries both signatures), then only the new one does.
 */
export async function rotateSecret(
  t: TeamContext,
  channelId: string,
  secret?: string,
): Promise<{ secret: string; overlapUntil: Date }> {
  assertRole(t, "admin");
  const fresh = secret ?? newSigningSecret();
  const overlapUntil = new Date(Date.now() + ROTATION_OVERLAP_MS);
  const d = await db();
  await d.transaction(async (tx) => {
    const [row] = await tx
      .select({
        kind: notificationChannels.kind,
        secretEnc: notificationChannels.secretEnc,
        description: notificationChannels.description,
        urlHint: notificationChannels.urlHint,
      })
      .from(notificationChannels)
      .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)))
      .for("update");
    if (!row) throw notFound("That channel");
    if (row.kind !== "webhook") throw new AppError("VALIDATION", "Only webhook endpoints have a signing secret.");
    const previous = row.secretEnc ? openChannelSecret(t.id, channelId, "secret_enc", row.secretEnc) : null;
    await tx
      .update(notificationChannels)
      .set({
        secretEnc: sealChannelSecret(t.id, channelId, "secret_enc", fresh),
        previousSecretEnc: previous ? sealChannelSecret(t.id, channelId, "previous_secret_enc", previous) : null,
        previousSecretUntil: previous ? overlapUntil : null,
      })
      .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)));
    await recordAudit(tx, t, {
      action: "channel.secret_rotated",
      target: { type: "channel", id: channelId, label: label(row) },
      details: { previousSignsUntil: overlapUntil.toISOString() },
    });
  });
  return { secret: fresh, overlapUntil };
}

export async function deleteChannel(t: TeamContext, channelId: string): Promise<void> {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    const [row] = await tx
      .delete(notificationChannels)
      .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)))
      .returning({
        kind: notificationChannels.kind,
        description: notificationChannels.description,
        urlHint: notificationChannels.urlHint,
      });
    if (!row) throw notFound("That channel");
    await recordAudit(tx, t, {
      action: "channel.deleted",
      target: { type: "channel", id: channelId, label: label(row) },
    });
  });
}

/**
 * Seals the webhook URLs saved in plain text before Coffer sealed them (a query or path may carry
 * the receiver's token), at start. Resolves with how many it sealed.
 */
export async function sealPlainWebhookUrlsAllTeams(): Promise<number> {
  const d = await db();
  const rows = await d
    .select({ id: notificationChannels.id, teamId: notificationChannels.teamId, url: notificationChannels.url })
    .from(notificationChannels)
    .where(isNotNull(notificationChannels.url));
  for (const r of rows) {
    const url = r.url!;
    // A URL today's rules refuse is sealed as it is: its deliveries fail and say why, as before.
    let hint: string;
    try {
      hint = parseTarget(url).hint;
    } catch {
      hint = URL.canParse(url) ? new URL(url).host : "";
    }
    await d
      .update(notificationChannels)
      .set({ urlEnc: sealChannelSecret(r.teamId, r.id, "url_enc", url), urlHint: hint, url: null })
      .where(and(eq(notificationChannels.id, r.id), eq(notificationChannels.url, url)));
  }
  return rows.length;
}

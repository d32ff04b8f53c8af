import "server-only";
import { and, eq, inArray, lt, or, sql } from "drizzle-orm";
import { memberships, notificationChannels, notificationPreferences, users } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { env } from "../env";
import { log } from "../log";
import { sendMailEach } from "../mail";
import { CHANNEL_DISABLED } from "../notifications/preferences";
import { systemTeam, inTeam } from "../teams/context";
import { failPending } from "./channels";

/** A channel is disabled when a delivery fails for good after it has failed this long without one success… */
export const DISABLE_AFTER_MS = 3 * 24 * 3600_000;
/** …or when this many deliveries in a row failed for good (every retry used). */
export const DISABLE_AFTER_FAILED = 100;

/**
 * After a batch of attempts: a success makes the channel healthy again; failures other than a
 * Send test's start (or continue) its failing period. A channel failing too long is disabled, what waited for it is
 * failed, and the team's admins are e-mailed, once (the UPDATE is guarded by `enabled`).
 */
export async function recordHealth(
  channel: { id: string; teamId: string },
  outcomes: { ok: boolean; final: boolean; test: boolean; error: string | null }[],
): Promise<void> {
  const d = await db();
  // Any success, a Send test's too, shows the endpoint works again (after an admin fixed it); a
  // test's failure counts for nothing, so testing a broken endpoint never disables it.
  if (outcomes.some((o) => o.ok)) {
    await d
      .update(notificationChannels)
      .set({ failingSince: null, failedInRow: 0 })
      .where(inTeam(notificationChannels, { id: channel.teamId }, eq(notificationChannels.id, channel.id)));
    return;
  }
  const real = outcomes.filter((o) => !o.test);
  if (!real.length) return;
  const failedForGood = real.filter((o) => o.final).length;
  await d
    .update(notificationChannels)
    .set({
      failingSince: sql`coalesce(${notificationChannels.failingSince}, now())`,
      failedInRow: sql`${notificationChannels.failedInRow} + ${failedForGood}`,
    })
    .where(inTeam(notificationChannels, { id: channel.teamId }, eq(notificationChannels.id, channel.id)));
  // Only a delivery that failed for good disables: an event always gets its retries, even on a
  // channel whose last failure was long ago (a receiver's one bad minute then costs nothing).
  if (!failedForGood) return;
  const reason = `Disabled by Coffer: it failed for 3 days without a successful delivery, or ${DISABLE_AFTER_FAILED} deliveries in a row failed. Last error: ${real.at(-1)!.error ?? "unknown"}`;
  const disabled = await d.transaction(async (tx) => {
    const [row] = await tx
      .update(notificationChannels)
      .set({ enabled: false, disabledAt: new Date(), disabledReason: reason.slice(0, 1000) })
      .where(
        inTeam(
          notificationChannels,
          { id: channel.teamId },
          eq(notificationChannels.id, channel.id),
          eq(notificationChannels.enabled, true),
          or(
            lt(notificationChannels.failingSince, new Date(Date.now() - DISABLE_AFTER_MS)),
            sql`${notificationChannels.failedInRow} >= ${DISABLE_AFTER_FAILED}`,
          ),
        ),
      )
      .returning({
        kind: notificationChannels.kind,
        description: notificationChannels.description,
        urlHint: notificationChannels.urlHint,
      });
    if (!row) return null;
    await failPending(tx, channel.teamId, channel.id, "Not sent: the channel was disabled after failing repeatedly.");
    return row;
  });
  if (!disabled) return;
  const t = await systemTeam(channel.teamId, "notification delivery");
  const name = disabled.description || `${disabled.kind} ${disabled.urlHint ?? ""}`.trim();
  await recordAudit(d, t, {
    action: "channel.auto_disabled",
    target: { type: "channel", id: channel.id, label: name },
    details: { reason: "kept failing" },
  });
  await mailAdmins(channel.teamId, t.name, t.slug, name, reason).catch((err: unknown) =>
    log.warn("could not e-mail the admins about a disabled channel", { channelId: channel.id, err }),
  );
}

async function mailAdmins(teamId: string, team: string, slug: string, name: string, reason: string) {
  const d = await db();
  const admins = await d
    .select({ email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .leftJoin(notificationPreferences, eq(notificationPreferences.userId, users.id))
    .where(
      and(
        inTeam(memberships, { id: teamId }),
        inArray(memberships.role, ["owner", "admin"]),
        sql`not coalesce(${notificationPreferences.muted}, '[]'::jsonb) @> ${JSON.stringify([CHANNEL_DISABLED])}::jsonb`,
      ),
    );
  if (!admins.length) return;
  const base = env().APP_URL.replace(/\/+$/, "");
  await sendMailEach(
    admins.map((a) => a.email),
    {
      subject: `[Coffer] Notification channel "${name}" was disabled — ${team}`,
      text: `Coffer stopped sending notifications to "${name}" in ${team}.\n\n${reason}\n\nFix the receiver, then enable the channel again and redeliver what it missed: ${base}/${slug}/webhooks\n\n--\nYou get this e-mail as an admin of ${team} on Coffer. Choose which e-mails you get: ${base}/account\n`,
    },
  );
}

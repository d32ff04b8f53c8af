import "server-only";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { notificationPreferences } from "@/db/schema";
import type { UserContext } from "../auth/users";
import { db } from "../db";
import { catalogue, eventTypes } from "./catalogue";

/** The e-mail admins get when Coffer disables a channel that kept failing. */
export const CHANNEL_DISABLED = "channel.disabled";
/** What a person can opt out of: each event's e-mails, and that one. */
export const mailKinds = [...eventTypes, CHANNEL_DISABLED] as const;
export const mailKindLabels: Record<(typeof mailKinds)[number], string> = {
  ...(Object.fromEntries(eventTypes.map((e) => [e, catalogue[e].title])) as Record<
    (typeof eventTypes)[number],
    string
  >),
  [CHANNEL_DISABLED]: "A notification channel was disabled (admins)",
};

export const preferencesSchema = z.object({
  muted: z
    .array(z.enum(mailKinds, "Unknown kind of e-mail."))
    .max(mailKinds.length * 2)
    .transform((l) => [...new Set(l)]),
});

/** The e-mails this person opted out of (none by default). */
export async function mutedMail(u: UserContext): Promise<string[]> {
  const d = await db();
  const [row] = await d
    .select({ muted: notificationPreferences.muted })
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, u.userId));
  return row?.muted ?? [];
}

export async function setMutedMail(u: UserContext, input: z.infer<typeof preferencesSchema>): Promise<void> {
  const d = await db();
  await d
    .insert(notificationPreferences)
    .values({ userId: u.userId, muted: input.muted })
    .onConflictDoUpdate({ target: notificationPreferences.userId, set: { muted: input.muted, updatedAt: new Date() } });
}

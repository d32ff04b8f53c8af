import { z } from "zod";
import { emailSchema } from "../auth/schemas";
import { idOf } from "../ids";
import { eventTypes } from "../notifications/catalogue";
import { roles } from "../teams/roles";

export const channelKinds = ["webhook", "slack", "discord", "teams", "email"] as const;
export type ChannelKind = (typeof channelKinds)[number];
export const chatKinds = ["slack", "discord", "teams"] as const;

const urlSchema = z
  .string()
  .trim()
  .min(1, "Enter the URL to send to.")
  .max(2000, "Use a URL of at most 2000 characters.");
const descriptionText = z.string().trim().max(200, "Use at most 200 characters.");
const descriptionSchema = descriptionText.default("");

/** Event types, each one of the catalogue; none means every event. `empty`: what absent means. */
const eventsOf = (empty?: string[]) => {
  const list = z.array(z.string()).max(eventTypes.length * 2);
  return (empty ? list.default(empty) : list)
    .superRefine((list, ctx) => {
      for (const e of list)
        if (!(eventTypes as readonly string[]).includes(e))
          ctx.addIssue({
            code: "custom",
            message: `Unknown event "${e.slice(0, 60)}". Choose from: ${eventTypes.join(", ")}.`,
          });
    })
    .transform((list) => [...new Set(list)]);
};
export const eventsSchema = eventsOf([]);

/** `whsec_` and the base64 of 24 to 64 random bytes, as Standard Webhooks secrets are. */
export const signingSecretSchema = z
  .string()
  .trim()
  .refine(
    (s) => /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s) && base64Bytes(s) >= 24 && base64Bytes(s) <= 64,
    "Use a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes (or leave it empty and Coffer makes one).",
  );
function base64Bytes(secret: string): number {
  return Buffer.from(secret.slice("whsec_".length), "base64").length;
}
const optionalSecret = z.preprocess((v) => (v === "" ? undefined : v), signingSecretSchema.optional());

/** Addresses typed one per line or separated by commas. `empty`: what absent means. */
const addressesOf = (empty?: string[]) => {
  const given = z.union([z.string(), z.array(z.string())]);
  return (empty ? given.default(empty) : given)
    .transform((v) => (Array.isArray(v) ? v : v.split(/[\s,;]+/)).map((a) => a.trim()).filter(Boolean))
    .pipe(z.array(emailSchema).max(50, "Use at most 50 addresses."));
};
const roleList = z.array(z.enum(roles, "Choose a role."));

const emailFields = {
  roles: roleList.default([]),
  addresses: addressesOf([]),
};
const needsRecipients = (v: { roles: string[]; addresses: string[] }) => v.roles.length + v.addresses.length > 0;
const recipientsMessage = {
  message: "Choose at least one role or enter at least one address.",
  path: ["roles"],
};

export const createChannelSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("webhook"),
    url: urlSchema,
    description: descriptionSchema,
    events: eventsSchema,
    secret: optionalSecret,
  }),
  z.object({ kind: z.enum(chatKinds), url: urlSchema, description: descriptionSchema, events: eventsSchema }),
  z
    .object({ kind: z.literal("email"), description: descriptionSchema, events: eventsSchema, ...emailFields })
    .refine(needsRecipients, recipientsMessage),
]);
export type CreateChannelInput = z.infer<typeof createChannelSchema>;

export const channelRefSchema = z.object({ channelId: idOf("chn", "channel") });

/** An edit: a chat URL left empty keeps the stored one. */
export const updateChannelSchema = channelRefSchema.extend({
  url: z.preprocess((v) => (v === "" ? undefined : v), urlSchema.optional()),
  description: descriptionSchema,
  events: eventsSchema,
  roles: emailFields.roles,
  addresses: emailFields.addresses,
});
export type UpdateChannelInput = z.infer<typeof updateChannelSchema>;

/**
 * The API's change of a channel: every field may be left out and then keeps what is stored, so
 * `{ "enabled": false }` only turns it off (the form always sends the whole channel).
 */
export const changeChannelSchema = z.object({
  url: updateChannelSchema.shape.url,
  description: descriptionText.optional(),
  events: eventsOf().optional(),
  roles: roleList.optional(),
  addresses: addressesOf().optional(),
  enabled: z.boolean().optional().meta({ description: "Turn the channel on or off." }),
});
export type ChangeChannelInput = z.infer<typeof changeChannelSchema>;

export const setChannelEnabledSchema = channelRefSchema.extend({ enabled: z.boolean() });
export const rotateSecretSchema = channelRefSchema.extend({ secret: optionalSecret });
export const sendTestSchema = channelRefSchema.extend({
  type: z.enum(eventTypes, `Choose an event: ${eventTypes.join(", ")}.`).default("backup.succeeded"),
});
export const deliveryRefSchema = z.object({ deliveryId: idOf("dlv", "delivery") });
export const deliveryStatuses = ["pending", "succeeded", "failed"] as const;

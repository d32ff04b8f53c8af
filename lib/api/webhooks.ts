import { z } from "zod";
import { eventTypes } from "../notifications/catalogue";
import { roles } from "../teams/roles";
import { changeChannelSchema, createChannelSchema, deliveryStatuses } from "../webhooks/schemas";
import { closed } from "./closed";
import { operation } from "./operation";
import { isoTime, limitParam, pathId } from "./schemas";

// A channel's URL is write-only (a chat URL is a credential, a webhook's may carry a token in its
// query): answers name its host (urlHint). The signing secret is answered once, on create and rotate.
export const channelSchema = z
  .object({
    id: z.string().meta({ example: "chn_01jq8x2m4k9p3r7t5v6w8y0z2a" }),
    kind: z.enum(["webhook", "slack", "discord", "teams", "email"]),
    description: z.string(),
    urlHint: z.string().nullable().meta({ description: "The URL's host[:port]; the URL itself is never answered." }),
    events: z.array(z.string()).meta({ description: "Event types it receives; empty means every event." }),
    enabled: z.boolean(),
    emailRoles: z.array(z.enum(roles)).nullable(),
    emailAddresses: z.array(z.string()).nullable(),
    previousSecretUntil: isoTime
      .nullable()
      .meta({ description: "After a rotation, until when the previous secret signs as well." }),
    failingSince: isoTime.nullable(),
    failedInRow: z.number().int(),
    disabledAt: isoTime.nullable(),
    disabledReason: z.string().nullable(),
    createdBy: z.string().nullable(),
    createdAt: isoTime,
    last24h: z
      .object({ pending: z.number().int(), succeeded: z.number().int(), failed: z.number().int() })
      .partial()
      .meta({ description: "Deliveries of the last 24 hours by status." }),
  })
  .meta({ id: "WebhookChannel" });

export const deliverySchema = z
  .object({
    id: z.string().meta({ example: "dlv_01jq8x2m4k9p3r7t5v6w8y0z2a" }),
    eventId: z.string().meta({ description: "Sent as `webhook-id`; the same on every attempt and redelivery." }),
    type: z.string(),
    test: z.boolean(),
    status: z.enum(deliveryStatuses),
    attempts: z.number().int(),
    nextAttemptAt: isoTime.nullable(),
    lastAttemptAt: isoTime.nullable(),
    responseStatus: z.number().int().nullable(),
    responseBody: z.string().nullable().meta({ description: "The receiver's answer, its first 300 characters." }),
    latencyMs: z.number().int().nullable(),
    error: z.string().nullable(),
    redeliveryOf: z.string().nullable(),
    createdAt: isoTime,
  })
  .meta({ id: "WebhookDelivery" });

const channelParams = z.strictObject({ channelId: pathId("chn", "channel") });
const channelBody = closed(createChannelSchema).meta({
  id: "WebhookChannelInput",
  description:
    "A webhook (Standard Webhooks, signed; `secret` optional, Coffer makes one), a chat channel (slack, discord, " +
    "teams: their incoming-webhook URL) or e-mail (roles and/or addresses).",
});
const channelUpdate = closed(changeChannelSchema).meta({
  id: "WebhookChannelUpdate",
  description:
    'Every field may be left out and keeps what is stored: `{ "enabled": false }` only turns the channel off. ' +
    "`url` is a webhook's or chat channel's, `roles` and `addresses` are e-mail's.",
});

const withSecret = channelSchema.extend({
  secret: z.string().optional().meta({
    description: "A webhook's signing secret (whsec_…): answered this once, keep it where the receiver can read it.",
  }),
});

export const listWebhooksOp = operation({
  id: "listWebhooks",
  method: "get",
  path: "/webhooks",
  tag: "Webhooks",
  summary: "List the team's notification channels (webhooks, chat, e-mail)",
  scope: "read",
  role: "admin",
  response: z.object({ data: z.array(channelSchema) }),
});

export const getWebhookOp = operation({
  id: "getWebhook",
  method: "get",
  path: "/webhooks/{channelId}",
  tag: "Webhooks",
  summary: "One notification channel",
  scope: "read",
  role: "admin",
  params: channelParams,
  response: channelSchema,
});

export const createWebhookOp = operation({
  id: "createWebhook",
  method: "post",
  path: "/webhooks",
  tag: "Webhooks",
  summary: "Add a notification channel",
  description: "The URL is checked as it is saved (https, a public address unless the operator allows private ones).",
  scope: "admin",
  role: "admin",
  body: channelBody,
  response: withSecret,
  status: 201,
  errors: { 502: "The URL's host name could not be looked up (DNS); try again later." },
});

export const updateWebhookOp = operation({
  id: "updateWebhook",
  method: "put",
  path: "/webhooks/{channelId}",
  tag: "Webhooks",
  summary: "Change a channel's settings; turn it on or off",
  description:
    "Fields left out keep what is stored. Disabling fails what was still waiting for it (redeliver sends any of " +
    "them again).",
  scope: "admin",
  role: "admin",
  params: channelParams,
  body: channelUpdate,
  response: channelSchema,
  errors: { 502: "The URL's host name could not be looked up (DNS); try again later." },
});

export const deleteWebhookOp = operation({
  id: "deleteWebhook",
  method: "delete",
  path: "/webhooks/{channelId}",
  tag: "Webhooks",
  summary: "Delete a channel with its delivery log",
  scope: "admin",
  role: "admin",
  params: channelParams,
  response: z.object({ id: z.string(), deleted: z.literal(true) }),
});

export const testWebhookOp = operation({
  id: "testWebhook",
  method: "post",
  path: "/webhooks/{channelId}/test",
  tag: "Webhooks",
  summary: "Send a sample event (`test: true`) now, once, and answer what came back",
  scope: "admin",
  role: "admin",
  params: channelParams,
  query: z.strictObject({
    type: z
      .enum(eventTypes, `Choose an event: ${eventTypes.join(", ")}.`)
      .default("backup.succeeded")
      .meta({ description: "The sample event's type." }),
  }),
  response: z
    .object({
      ok: z.boolean(),
      status: z.number().int().nullable().meta({ description: "The receiver's HTTP status." }),
      latencyMs: z.number().int().nullable(),
      body: z.string().nullable().meta({ description: "The receiver's answer, its first 500 characters." }),
      error: z.string().nullable(),
    })
    .meta({ id: "WebhookTestResult" }),
  errors: { 409: "The test was not sent: the channel was disabled or deleted meanwhile." },
});

export const rotateWebhookSecretOp = operation({
  id: "rotateWebhookSecret",
  method: "post",
  path: "/webhooks/{channelId}/rotate-secret",
  tag: "Webhooks",
  summary: "Give a webhook a new signing secret (answered this once)",
  description: "The previous secret keeps signing alongside the new one for 24 hours.",
  scope: "admin",
  role: "admin",
  params: channelParams,
  response: z.object({ secret: z.string(), overlapUntil: isoTime }),
});

export const listWebhookDeliveriesOp = operation({
  id: "listWebhookDeliveries",
  method: "get",
  path: "/webhooks/{channelId}/deliveries",
  tag: "Webhooks",
  summary: "A channel's delivery log, newest first (30 days are kept)",
  scope: "read",
  role: "admin",
  params: channelParams,
  query: z.strictObject({ status: z.enum(deliveryStatuses).optional(), limit: limitParam }),
  response: z.object({ data: z.array(deliverySchema) }),
});

export const redeliverOp = operation({
  id: "redeliverWebhookDelivery",
  method: "post",
  path: "/webhook-deliveries/{deliveryId}/redeliver",
  tag: "Webhooks",
  summary: "Send a delivery's event (same webhook-id) to its channel again, as a new delivery",
  scope: "admin",
  role: "admin",
  params: z.strictObject({ deliveryId: pathId("dlv", "delivery") }),
  response: z.object({ id: z.string(), redeliveryOf: z.string() }),
  status: 202,
  errors: { 409: "The channel is disabled: enable it first." },
});

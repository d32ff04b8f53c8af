"use server";
import { createChannel, deleteChannel, rotateSecret, setChannelEnabled, updateChannel } from "@/lib/webhooks/channels";
import { redeliver, sendTest } from "@/lib/webhooks/deliveries";
import {
  channelRefSchema,
  createChannelSchema,
  deliveryRefSchema,
  rotateSecretSchema,
  sendTestSchema,
  setChannelEnabledSchema,
  updateChannelSchema,
} from "@/lib/webhooks/schemas";
import { teamAction } from "@/lib/web/action";

export const createChannelAction = teamAction(createChannelSchema, "admin", createChannel);
export const updateChannelAction = teamAction(updateChannelSchema, "admin", updateChannel);
export const deleteChannelAction = teamAction(channelRefSchema, "admin", (t, i) => deleteChannel(t, i.channelId));
export const setChannelEnabledAction = teamAction(setChannelEnabledSchema, "admin", (t, i) =>
  setChannelEnabled(t, i.channelId, i.enabled),
);
export const rotateSecretAction = teamAction(rotateSecretSchema, "admin", (t, i) =>
  rotateSecret(t, i.channelId, i.secret),
);
export const sendTestAction = teamAction(sendTestSchema, "admin", (t, i) => sendTest(t, i.channelId, i.type));
export const redeliverAction = teamAction(deliveryRefSchema, "admin", (t, i) => redeliver(t, i.deliveryId));

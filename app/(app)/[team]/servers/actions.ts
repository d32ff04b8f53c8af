"use server";
import { teamAction } from "@/lib/web/action";
import { testServer, testSource } from "@/lib/servers/checks";
import { acceptHostKey, createServer, deleteServer, updateServer } from "@/lib/servers/mutations";
import { createSource, deleteSource, updateSource } from "@/lib/servers/source-mutations";
import {
  acceptHostKeySchema,
  createServerSchema,
  createSourceSchema,
  serverRefSchema,
  sourceRefSchema,
  updateServerSchema,
  updateSourceSchema,
} from "@/lib/servers/schemas";

export const createServerAction = teamAction(createServerSchema, "member", createServer);
export const updateServerAction = teamAction(updateServerSchema, "member", updateServer);
export const deleteServerAction = teamAction(serverRefSchema, "member", (t, i) => deleteServer(t, i.serverId));
export const testServerAction = teamAction(serverRefSchema, "member", (t, i) => testServer(t, i.serverId));
export const acceptHostKeyAction = teamAction(acceptHostKeySchema, "admin", (t, i) =>
  acceptHostKey(t, i.serverId, i.fingerprint),
);
export const createSourceAction = teamAction(createSourceSchema, "member", createSource);
export const updateSourceAction = teamAction(updateSourceSchema, "member", updateSource);
export const deleteSourceAction = teamAction(sourceRefSchema, "member", (t, i) => deleteSource(t, i.sourceId));
export const testSourceAction = teamAction(sourceRefSchema, "member", (t, i) => testSource(t, i.sourceId));

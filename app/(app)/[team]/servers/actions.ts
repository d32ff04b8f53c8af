"use server";
import { savedThenTested } from "@/lib/check-result";
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

// Each save runs the item's test too: a setting that fails it is kept, and its failure shows on the item.
export const createServerAction = teamAction(createServerSchema, "member", (t, i) =>
  savedThenTested(createServer(t, i), (id) => testServer(t, id)),
);
export const updateServerAction = teamAction(updateServerSchema, "member", (t, i) =>
  savedThenTested(updateServer(t, i), (id) => testServer(t, id)),
);
export const deleteServerAction = teamAction(serverRefSchema, "member", (t, i) => deleteServer(t, i.serverId));
export const testServerAction = teamAction(serverRefSchema, "member", (t, i) => testServer(t, i.serverId));
export const acceptHostKeyAction = teamAction(acceptHostKeySchema, "admin", (t, i) =>
  acceptHostKey(t, i.serverId, i.fingerprint),
);
export const createSourceAction = teamAction(createSourceSchema, "member", (t, i) =>
  savedThenTested(createSource(t, i), (id) => testSource(t, id)),
);
export const updateSourceAction = teamAction(updateSourceSchema, "member", (t, i) =>
  savedThenTested(updateSource(t, i), (id) => testSource(t, id)),
);
export const deleteSourceAction = teamAction(sourceRefSchema, "member", (t, i) => deleteSource(t, i.sourceId));
export const testSourceAction = teamAction(sourceRefSchema, "member", (t, i) => testSource(t, i.sourceId));

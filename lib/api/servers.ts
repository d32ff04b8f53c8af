import { z } from "zod";
import { operation } from "./operation";
import { isoTime, pathId } from "./schemas";

// Secrets are write-only: answers say whether one is set (hasPassword), never what it is.
const checked = {
  checkedAt: isoTime.nullable(),
  checkOk: z.boolean().nullable(),
  checkMessage: z.string().nullable(),
};

export const sourceSchema = z
  .object({
    id: z.string(),
    serverId: z.string(),
    kind: z.string().meta({ description: "postgres or directory." }),
    name: z.string(),
    pgHost: z.string().nullable(),
    pgPort: z.number().int().nullable(),
    pgDatabase: z.string().nullable(),
    pgUser: z.string().nullable(),
    hasPgPassword: z.boolean(),
    paths: z.array(z.string()).nullable().meta({ description: "Directory sources: what is backed up." }),
    excludes: z.array(z.string()).nullable(),
    ...checked,
  })
  .meta({ id: "Source" });

export const serverSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.string().meta({ description: "ssh or local (the Coffer host)." }),
    host: z.string().nullable(),
    port: z.number().int().nullable(),
    username: z.string().nullable(),
    hasPrivateKey: z.boolean(),
    hasPassphrase: z.boolean(),
    hasPassword: z.boolean(),
    hostKey: z.string().nullable(),
    workDir: z.string(),
    createdAt: isoTime,
    ...checked,
  })
  .meta({ id: "Server" });

export const destinationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.string().meta({ description: "local, server, s3, gcs or azure." }),
    serverId: z.string().nullable(),
    serverName: z.string().nullable(),
    settings: z.record(z.string(), z.unknown()).meta({ description: "Non-secret settings (bucket, region, …)." }),
    credentialFields: z.array(z.string()).meta({ description: "Which credentials are stored (never their values)." }),
    ...checked,
  })
  .meta({ id: "Destination" });

export const listServersOp = operation({
  id: "listServers",
  method: "get",
  path: "/servers",
  tag: "Servers",
  summary: "List the team's servers",
  scope: "read",
  response: z.object({ data: z.array(serverSchema.extend({ sourceCount: z.number().int() })) }),
});

export const getServerOp = operation({
  id: "getServer",
  method: "get",
  path: "/servers/{serverId}",
  tag: "Servers",
  summary: "One server with its sources",
  scope: "read",
  params: z.strictObject({ serverId: pathId("srv", "server") }),
  response: serverSchema.extend({ sources: z.array(sourceSchema) }),
});

export const listDestinationsOp = operation({
  id: "listDestinations",
  method: "get",
  path: "/destinations",
  tag: "Destinations",
  summary: "List the team's storage destinations",
  scope: "read",
  response: z.object({ data: z.array(destinationSchema) }),
});

export const getDestinationOp = operation({
  id: "getDestination",
  method: "get",
  path: "/destinations/{destinationId}",
  tag: "Destinations",
  summary: "One storage destination",
  scope: "read",
  params: z.strictObject({ destinationId: pathId("dst", "destination") }),
  response: destinationSchema,
});

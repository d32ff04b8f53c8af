import { z } from "zod";
import { createDestinationSchema, providerFields } from "../destinations/schemas";
import { createServerSchema, createSourceSchema, sslModes } from "../servers/schemas";
import { closed } from "./closed";
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
    kind: z.string().meta({ description: "postgres, directory or postgres_cluster (every database of a PostgreSQL)." }),
    name: z.string(),
    pgHost: z.string().nullable(),
    pgPort: z.number().int().nullable(),
    pgDatabase: z.string().nullable(),
    pgUser: z.string().nullable(),
    hasPgPassword: z.boolean(),
    pgSslmode: z.enum(sslModes).nullable().meta({ description: "PostgreSQL sources: libpq's sslmode." }),
    pgRequireScram: z
      .boolean()
      .meta({ description: "PostgreSQL sources: only SCRAM password authentication is accepted." }),
    paths: z.array(z.string()).nullable().meta({ description: "Directory sources: what is backed up." }),
    excludes: z
      .array(z.string())
      .nullable()
      .meta({ description: "Directory sources: tar patterns left out; postgres_cluster: databases left out." }),
    pgRolePasswords: z.boolean().meta({ description: "postgres_cluster: the roles' password hashes are backed up." }),
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

const serverParams = z.strictObject({ serverId: pathId("srv", "server") });
const sourceParams = z.strictObject({ sourceId: pathId("src", "source") });
const destinationParams = z.strictObject({ destinationId: pathId("dst", "destination") });
const serverBody = closed(createServerSchema).meta({
  id: "ServerInput",
  description: "Secrets (privateKey, passphrase, password) left empty on a replace stay as stored.",
});
const [postgresSource, directorySource, clusterSource] = createSourceSchema.def.right.options;
const sourceBody = closed(z.discriminatedUnion("kind", [postgresSource, directorySource, clusterSource])).meta({
  id: "SourceInput",
  description: "pgSslmode left out: prefer.",
});
// A replace that leaves the SSL mode out keeps the stored one: it never weakens it unasked.
const keptSslmode = { pgSslmode: z.enum(sslModes).optional() };
const replaceSourceBody = closed(
  z.discriminatedUnion("kind", [
    postgresSource.extend(keptSslmode),
    directorySource,
    clusterSource.extend(keptSslmode),
  ]),
).meta({
  id: "SourceReplacement",
  description: "A pgPassword left empty stays as stored, and so does the pgSslmode left out.",
});
// The form's schema takes any field beside its own (the provider's); here one the kind does not know is refused.
const destinationBody = closed(
  createDestinationSchema.superRefine((input, ctx) => {
    const { settings, secrets } = providerFields[input.kind];
    const known = new Set<string>([...Object.keys(createDestinationSchema.shape), ...settings, ...secrets]);
    for (const key of Object.keys(input))
      if (!known.has(key))
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `A ${input.kind} destination has no field ${key}; use ${[...settings, ...secrets].join(", ")}.`,
        });
  }),
).meta({
  id: "DestinationInput",
  description:
    "The provider's own fields sit beside these (s3: bucket, region, endpoint, forcePathStyle (left out: path-style " +
    "with an endpoint, virtual-hosted without), accessKeyId, secretAccessKey; gcs: " +
    "bucket, projectId, credentials; azure: container, accountName, connectionString, accountKey, sasUrl) and are " +
    "checked for the kind; others are refused. Secrets left empty on a replace stay as stored.",
});

export const checkResultSchema = z
  .object({
    ok: z.boolean(),
    message: z.string().meta({ description: "One line; says what to fix when not ok." }),
    facts: z.record(z.string(), z.string()).meta({ description: "What was checked." }),
  })
  .meta({ id: "CheckResult" });

const deletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });
const checkNote = "Saves the outcome on the row (checkedAt, checkOk, checkMessage).";

export const createServerOp = operation({
  id: "createServer",
  method: "post",
  path: "/servers",
  tag: "Servers",
  summary: "Add a server (ssh, or this host when the operator allows it)",
  scope: "admin",
  role: "member",
  body: serverBody,
  response: serverSchema.extend({ sources: z.array(sourceSchema) }),
  status: 201,
  errors: { 409: "Another server has this name." },
});

export const replaceServerOp = operation({
  id: "replaceServer",
  method: "put",
  path: "/servers/{serverId}",
  tag: "Servers",
  summary: "Replace a server's settings",
  scope: "admin",
  role: "member",
  params: serverParams,
  body: serverBody,
  response: serverSchema.extend({ sources: z.array(sourceSchema) }),
  errors: { 409: "Another server has this name." },
});

export const deleteServerOp = operation({
  id: "deleteServer",
  method: "delete",
  path: "/servers/{serverId}",
  tag: "Servers",
  summary: "Delete a server with its sources",
  scope: "admin",
  role: "member",
  params: serverParams,
  response: deletedSchema,
  errors: {
    409:
      "A schedule, backup or restore still uses it, a destination stores in its backup directory, or objects of " +
      "its ended backups are still to be deleted from storage.",
  },
});

export const testServerOp = operation({
  id: "testServer",
  method: "post",
  path: "/servers/{serverId}/test",
  tag: "Servers",
  summary: "Connect to a server and check what backups need there",
  description: checkNote,
  scope: "admin",
  role: "member",
  params: serverParams,
  response: checkResultSchema,
});

export const createSourceOp = operation({
  id: "createSource",
  method: "post",
  path: "/servers/{serverId}/sources",
  tag: "Servers",
  summary: "Add a source (a PostgreSQL database or folders) to a server",
  scope: "admin",
  role: "member",
  params: serverParams,
  body: sourceBody,
  response: sourceSchema,
  status: 201,
  errors: { 409: "Another source on this server has this name." },
});

export const replaceSourceOp = operation({
  id: "replaceSource",
  method: "put",
  path: "/sources/{sourceId}",
  tag: "Servers",
  summary: "Replace a source's settings",
  scope: "admin",
  role: "member",
  params: sourceParams,
  body: replaceSourceBody,
  response: sourceSchema,
  errors: { 409: "Another source on this server has this name." },
});

export const deleteSourceOp = operation({
  id: "deleteSource",
  method: "delete",
  path: "/sources/{sourceId}",
  tag: "Servers",
  summary: "Delete a source",
  scope: "admin",
  role: "member",
  params: sourceParams,
  response: deletedSchema,
  errors: { 409: "A schedule still uses it, or a backup, restore or verification of it is under way." },
});

export const testSourceOp = operation({
  id: "testSource",
  method: "post",
  path: "/sources/{sourceId}/test",
  tag: "Servers",
  summary: "Check a source can be backed up (connect to the database, read the folders)",
  description: checkNote,
  scope: "admin",
  role: "member",
  params: sourceParams,
  response: checkResultSchema,
});

export const createDestinationOp = operation({
  id: "createDestination",
  method: "post",
  path: "/destinations",
  tag: "Destinations",
  summary: "Add a storage destination",
  scope: "admin",
  role: "admin",
  body: destinationBody,
  response: destinationSchema,
  status: 201,
  errors: {
    409: "Another destination has this name.",
    502: "A custom endpoint's host name could not be looked up (DNS).",
  },
});

export const replaceDestinationOp = operation({
  id: "replaceDestination",
  method: "put",
  path: "/destinations/{destinationId}",
  tag: "Destinations",
  summary: "Replace a storage destination's settings",
  scope: "admin",
  role: "admin",
  params: destinationParams,
  body: destinationBody,
  response: destinationSchema,
  errors: {
    409:
      "Another destination has this name, or it holds backups and its new location could not be checked for them " +
      "or lacks them.",
    502: "A custom endpoint's host name could not be looked up (DNS).",
  },
});

export const deleteDestinationOp = operation({
  id: "deleteDestination",
  method: "delete",
  path: "/destinations/{destinationId}",
  tag: "Destinations",
  summary: "Delete a storage destination",
  scope: "admin",
  role: "admin",
  params: destinationParams,
  response: deletedSchema,
  errors: { 409: "A schedule or a stored backup still uses it." },
});

export const testDestinationOp = operation({
  id: "testDestination",
  method: "post",
  path: "/destinations/{destinationId}/test",
  tag: "Destinations",
  summary: "Write, read and delete a test object on a destination",
  description: checkNote,
  scope: "admin",
  role: "member",
  params: destinationParams,
  response: checkResultSchema,
});

import { z } from "zod";
import { restoreKindEnum, restoreStatusEnum } from "@/db/schema";
import { restoreDatabaseSchema, restoreDirectorySchema, verifyBackupSchema } from "../restores/schemas";
import { logLineSchema } from "./backups";
import { closed } from "./closed";
import { operation } from "./operation";
import { isoTime, pathId } from "./schemas";

export const restoreSchema = z
  .object({
    id: z.string().meta({ example: "rst_01jq8x2m4k9p3r7t5v6w8y0z2a" }),
    backupId: z.string(),
    kind: z.enum(restoreKindEnum.enumValues).meta({ description: "A verification is a restore of kind verify." }),
    status: z.enum(restoreStatusEnum.enumValues),
    serverId: z.string(),
    serverName: z.string(),
    members: z.array(z.string()),
    targetDatabase: z.string().nullable(),
    targetPath: z.string().nullable(),
    mode: z.enum(["new", "replace", "fresh", "overwrite"]).nullable(),
    safetyBackupId: z.string().nullable().meta({ description: "Replace: the backup taken of the target first." }),
    requestedBy: z.string().nullable(),
    createdAt: isoTime,
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    attempts: z.number().int(),
    bytesDone: z.number().int(),
    totalBytes: z.number().int().nullable(),
    elapsedMs: z.number().int(),
    bytesPerSecond: z.number().int(),
    result: z.record(z.string(), z.unknown()).nullable().meta({ description: "A verification's findings." }),
    error: z.string().nullable(),
    cancelRequestedAt: isoTime.nullable(),
  })
  .meta({ id: "Restore" });

export const restoreDetailSchema = restoreSchema.extend({ log: z.array(logLineSchema) }).meta({ id: "RestoreDetail" });

const restoreParams = z.strictObject({ restoreId: pathId("rst", "restore") });

export const createRestoreOp = operation({
  id: "createRestore",
  method: "post",
  path: "/restores",
  tag: "Restores",
  summary: "Restore a database dump or folders from a backup",
  description:
    "`kind: database` restores one dump of the archive into `targetDatabase` (mode `replace` drops and replaces an " +
    "existing database after a safety backup; `confirm` repeats its name). `kind: directory` restores folders.",
  scope: "restores:write",
  body: closed(
    z.discriminatedUnion("kind", [
      restoreDatabaseSchema.extend({ kind: z.literal("database") }),
      restoreDirectorySchema.extend({ kind: z.literal("directory") }),
    ]),
  ),
  response: restoreSchema,
  status: 202,
  errors: { 409: "The backup has not succeeded, or something else is restoring into that target." },
});

export const createVerificationOp = operation({
  id: "createVerification",
  method: "post",
  path: "/verifications",
  tag: "Restores",
  summary: "Verify a backup by restoring it into a scratch database",
  scope: "restores:write",
  body: closed(verifyBackupSchema),
  response: restoreSchema,
  status: 202,
  errors: { 409: "The backup has not succeeded." },
});

export const listRestoresOp = operation({
  id: "listRestores",
  method: "get",
  path: "/backups/{backupId}/restores",
  tag: "Restores",
  summary: "A backup's restores and verifications, newest first",
  scope: "read",
  params: z.strictObject({ backupId: pathId("bkp", "backup") }),
  response: z.object({ data: z.array(restoreSchema) }),
});

export const getRestoreOp = operation({
  id: "getRestore",
  method: "get",
  path: "/restores/{restoreId}",
  tag: "Restores",
  summary: "One restore or verification with its log",
  scope: "read",
  params: restoreParams,
  response: restoreDetailSchema,
});

export const cancelRestoreOp = operation({
  id: "cancelRestore",
  method: "post",
  path: "/restores/{restoreId}/cancel",
  tag: "Restores",
  summary: "Cancel a queued or running restore or verification",
  scope: "restores:write",
  params: restoreParams,
  response: restoreSchema,
  status: 202,
  errors: { 409: "It has already finished." },
});

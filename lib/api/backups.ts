import { z } from "zod";
import { encryptionFormats } from "../openpgp/encryption";
import { backupStatusEnum, backupTriggerEnum, destinationKindEnum, locationStatusEnum } from "@/db/schema";
import { compressionSettings } from "../backups/compression";
import { requestBackupSchema, uploadBackupSchema } from "../backups/schemas";
import { closed } from "./closed";
import { operation } from "./operation";
import { cursor, idempotencyKeyHeader, isoTime, limitParam, pathId, queryList, queryTime } from "./schemas";

const id = (prefix: string) => z.string().meta({ example: `${prefix}_01jq8x2m4k9p3r7t5v6w8y0z2a` });

export const locationSchema = z
  .object({
    id: id("loc"),
    destinationId: id("dst"),
    destinationName: z.string(),
    kind: z.enum(destinationKindEnum.enumValues),
    objectKey: z.string(),
    status: z.enum(locationStatusEnum.enumValues),
    sizeBytes: z.number().int().nullable(),
    sha256: z.string().nullable(),
    storageClass: z.string().nullable(),
    error: z.string().nullable(),
    damage: z
      .string()
      .nullable()
      .meta({ description: "What a read found wrong with this copy; it is read last until a whole read passes." }),
  })
  .meta({ id: "BackupLocation" });

export const backupSchema = z
  .object({
    id: id("bkp"),
    serverId: id("srv"),
    serverName: z.string(),
    scheduleId: z.string().nullable(),
    scheduleName: z.string().nullable(),
    scheduledFor: isoTime.nullable(),
    trigger: z.enum(backupTriggerEnum.enumValues),
    status: z.enum(backupStatusEnum.enumValues),
    encrypted: z.boolean(),
    encryption: z.enum(encryptionFormats).meta({
      description:
        "How an encrypted backup is sealed: `coffer` (the master key) or `openpgp` (one OpenPGP message to the team's keys).",
    }),
    compression: z.enum(compressionSettings),
    requestedBy: z.string().nullable(),
    fileName: z.string(),
    createdAt: isoTime,
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    attempts: z.number().int(),
    bytesDone: z.number().int(),
    elapsedMs: z.number().int(),
    bytesPerSecond: z.number().int(),
    sizeBytes: z.number().int().nullable().meta({ description: "The stored object (encrypted when encrypted)." }),
    archiveBytes: z.number().int().nullable().meta({ description: "The plain .tar.gz a download delivers." }),
    sha256: z.string().nullable(),
    error: z.string().nullable(),
    cancelRequestedAt: isoTime.nullable(),
    tier: z.string().nullable(),
    expiredAt: isoTime.nullable(),
    verifiedAt: isoTime.nullable(),
    locations: z.array(locationSchema),
  })
  .meta({ id: "Backup" });

export const logLineSchema = z
  .object({ id: z.number().int(), level: z.string(), message: z.string(), createdAt: isoTime })
  .meta({ id: "LogLine" });

export const backupDetailSchema = backupSchema
  .extend({
    manifest: z.record(z.string(), z.unknown()).nullable().meta({ description: "What the archive holds." }),
    log: z.array(logLineSchema),
  })
  .meta({ id: "BackupDetail" });

const backupParams = z.strictObject({ backupId: pathId("bkp", "backup") });

export const listBackupsOp = operation({
  id: "listBackups",
  method: "get",
  path: "/backups",
  tag: "Backups",
  summary: "List backups, newest first",
  scope: "read",
  query: z.strictObject({
    serverId: pathId("srv", "server").optional(),
    scheduleId: pathId("sch", "schedule").optional(),
    status: queryList(backupStatusEnum.enumValues, "statuses").optional(),
    from: queryTime.optional().meta({ description: "Created at or after this time." }),
    to: queryTime.optional().meta({ description: "Created before this time." }),
    cursor: cursor.schema.optional(),
    limit: limitParam,
  }),
  response: z.object({
    data: z.array(backupSchema),
    nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last." }),
  }),
});

export const triggerBackupOp = operation({
  id: "triggerBackup",
  method: "post",
  path: "/backups",
  tag: "Backups",
  summary: "Back up a server now",
  description:
    "Queues a backup of the server's sources (all of them unless `sourceIds` names some) to the destinations. " +
    "With an `Idempotency-Key`, repeating the request within 24 hours answers 200 with the same backup.",
  scope: "backups:write",
  headers: idempotencyKeyHeader,
  body: closed(requestBackupSchema),
  response: backupSchema,
  status: 201,
  replayed: "The backup an earlier request with this Idempotency-Key made (header Idempotency-Replayed: true).",
  errors: {
    409: "The key was used with another body, or its first request is still being made.",
    413: "The team's backups on this host's disk are at its quota (a local-disk destination is among them).",
  },
});

export const getBackupOp = operation({
  id: "getBackup",
  method: "get",
  path: "/backups/{backupId}",
  tag: "Backups",
  summary: "One backup with its locations, manifest and log",
  scope: "read",
  params: backupParams,
  response: backupDetailSchema,
});

export const cancelBackupOp = operation({
  id: "cancelBackup",
  method: "post",
  path: "/backups/{backupId}/cancel",
  tag: "Backups",
  summary: "Cancel a queued or running backup",
  scope: "backups:write",
  params: backupParams,
  response: backupSchema,
  status: 202,
  errors: { 409: "The backup has already finished." },
});

export const downloadBackupOp = operation({
  id: "downloadBackup",
  method: "get",
  path: "/backups/{backupId}/download",
  tag: "Backups",
  summary: "Download the decrypted .tar.gz",
  description:
    "Streams the archive, decrypted, with its Content-Length, a strong ETag and Last-Modified. Send " +
    "`Range: bytes=<from>-` (with `If-Range: <ETag>`) to resume an interrupted download (206). " +
    "Needs a token acting as a member (one that also has backups:write or restores:write).",
  scope: "read",
  params: backupParams,
  headers: z.object({
    range: z.string().optional().meta({ example: "bytes=1048576-" }),
    "if-range": z.string().optional().meta({ description: "The ETag seen first: a changed backup answers 200 whole." }),
  }),
  file: "application/gzip",
  errors: {
    409: "The backup has not succeeded, or its copies are in archive storage.",
    416: "The range is not within the file (past its end, or empty): `Content-Range: bytes */<size>` says its size.",
    502: "No copy could be read: its storage failed or could not be reached.",
  },
});

export const uploadBackupOp = operation({
  id: "uploadBackup",
  method: "post",
  path: "/backups/upload",
  tag: "Backups",
  summary: "Import a .tar.gz as a backup",
  description: "The body is the file itself (Content-Type: application/gzip), streamed; settings are query parameters.",
  scope: "backups:write",
  query: uploadBackupSchema.strict(),
  rawBody: ["application/gzip", "application/x-gzip", "application/octet-stream"],
  response: z.object({ id: id("bkp"), sizeBytes: z.number().int() }),
  status: 201,
  errors: {
    408: "Nothing arrived for `UPLOAD_IDLE_TIMEOUT` seconds (default 60): the upload stopped and nothing was kept.",
    413:
      "The file is larger than this Coffer takes (`UPLOAD_MAX_SIZE`) or the team's quota on this host's disk allows, " +
      "or it expands too much when unpacked (a gzip bomb); nothing was kept.",
    502: "A destination failed or could not be reached; nothing was kept.",
  },
});

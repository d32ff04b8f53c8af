import { z } from "zod";
import { idOf } from "../ids";
import { encryptionSchema } from "../openpgp/encryption";
import { compressionSettings } from "./compression";

export const requestBackupSchema = z.object({
  serverId: idOf("srv", "server"),
  /** Empty or absent: every source of the server. */
  sourceIds: z.array(idOf("src", "source")).max(50).optional(),
  destinationIds: z.array(idOf("dst", "destination")).min(1, "Choose at least one destination.").max(20),
  encrypted: z.boolean().default(true),
  /** Absent: Coffer's format. */
  encryption: encryptionSchema,
  /** Absent: fast. */
  compression: z.enum(compressionSettings, "Choose fast, balanced or small.").optional(),
  /** Verify it once it succeeded (absent: no; Back up now on a schedule offers the schedule's setting). */
  verify: z.boolean().optional(),
  /** A PostgreSQL source whose connection verification uses; absent: each database's own. */
  verifySourceId: idOf("src", "verification connection").optional(),
});
export type RequestBackupInput = z.infer<typeof requestBackupSchema>;

export const backupRefSchema = z.object({ backupId: idOf("bkp", "backup") });

/** Query parameters of an upload (the body is the file itself). */
export const uploadBackupSchema = z.object({
  serverId: idOf("srv", "server"),
  destinationIds: z
    .string()
    .transform((v) => v.split(",").filter(Boolean))
    .pipe(z.array(idOf("dst", "destination")).min(1, "Choose at least one destination.").max(20))
    .meta({ description: "Comma-separated destination ids (`dst_a,dst_b`)." }),
  /** Absent: encrypted, as Back up now; anything but these four is refused, never read as "no". */
  encrypted: z
    .enum(["true", "false", "1", "0"], "Use true or false.")
    .default("true")
    .transform((v) => v === "true" || v === "1"),
  /** The uploaded file's own name, kept to show with the backup (its last path part, no control characters). */
  fileName: z
    .string()
    .max(255)
    .transform((n) => n.replace(/\p{Cc}/gu, "").replace(/^.*[\\/]/, "") || undefined)
    .optional(),
});
export type UploadBackupInput = z.infer<typeof uploadBackupSchema>;

import { z } from "zod";

export const id = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{26}$`), `Unknown ${what}.`);

export const requestBackupSchema = z.object({
  serverId: id("srv", "server"),
  /** Empty or absent: every source of the server. */
  sourceIds: z.array(id("src", "source")).max(50).optional(),
  destinationIds: z.array(id("dst", "destination")).min(1, "Choose at least one destination.").max(20),
  encrypted: z.boolean().default(true),
});
export type RequestBackupInput = z.infer<typeof requestBackupSchema>;

export const backupRefSchema = z.object({ backupId: id("bkp", "backup") });

/** Query parameters of an upload (the body is the file itself). */
export const uploadBackupSchema = z.object({
  serverId: id("srv", "server"),
  destinationIds: z.preprocess(
    (v) => (typeof v === "string" ? v.split(",").filter(Boolean) : v),
    z.array(id("dst", "destination")).min(1, "Choose at least one destination.").max(20),
  ),
  encrypted: z.preprocess((v) => v === true || v === "true" || v === "1", z.boolean()),
  fileName: z.string().max(255).optional(),
});
export type UploadBackupInput = z.infer<typeof uploadBackupSchema>;

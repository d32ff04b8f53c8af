import { z } from "zod";

const id = (prefix: string, what: string) => z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{26}$`), `Unknown ${what}.`);

export const requestBackupSchema = z.object({
  serverId: id("srv", "server"),
  /** Empty or absent: every source of the server. */
  sourceIds: z.array(id("src", "source")).max(50).optional(),
  destinationIds: z.array(id("dst", "destination")).min(1, "Choose at least one destination.").max(20),
  encrypted: z.boolean().default(true),
});
export type RequestBackupInput = z.infer<typeof requestBackupSchema>;

export const backupRefSchema = z.object({ backupId: id("bkp", "backup") });

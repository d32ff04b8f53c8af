import "server-only";
import type { Readable } from "node:stream";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { AppError } from "../errors";
import { assertRole, type TeamContext } from "../teams/context";
import { attachment } from "../web/attachment";
import { openArchive, succeededBackup } from "./open-archive";

/**
 * An OpenPGP backup's stored object as it is (`.tar.gz.gpg`), for people who decrypt it with
 * their own key (`gpg --decrypt`). Audited; members and above only. A HEAD (`head`) answers from
 * the backup's row: no storage read, no read lease, no audit row (download managers ask first).
 */
export async function openStoredObject(
  t: TeamContext,
  backupId: string,
  opts: { head?: boolean; signal?: AbortSignal } = {},
): Promise<{ headers: Record<string, string>; body: Readable | null }> {
  assertRole(t, "member");
  const b = await succeededBackup(t, backupId);
  if (!b.encrypted || b.encryption !== "openpgp")
    throw new AppError(
      "VALIDATION",
      "Only OpenPGP backups can be downloaded as they are stored; download the .tar.gz.",
    );
  const headers = {
    "Content-Type": "application/pgp-encrypted",
    "Content-Length": String(b.sizeBytes),
    "Content-Disposition": attachment(`${b.fileName}.gpg`),
    "Cache-Control": "private, no-store",
  };
  if (opts.head) return { headers, body: null };
  const { body, from } = await openArchive(t, b, { signal: opts.signal, requestRetrieval: false, raw: true });
  const d = await db();
  await recordAudit(d, t, {
    action: "backup.downloaded",
    target: { type: "backup", id: b.id, label: `${b.fileName}.gpg` },
    details: { from, object: true },
  }).catch((err: unknown) => {
    body.destroy(); // as in openDownload
    throw err;
  });
  return { headers, body };
}

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
 * their own key (`gpg --decrypt`). Audited; members and above only. A HEAD (`head`) reads its
 * first byte, so it answers what a GET would (a copy can be read, or a 409 while every copy is in
 * archive storage), with no read lease after and no audit row (download managers ask first).
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
  const { body, from } = await openArchive(t, b, {
    range: opts.head ? { start: 0, end: 0 } : null,
    signal: opts.signal,
    requestRetrieval: false,
    raw: true,
    hold: !opts.head,
  });
  if (opts.head) {
    body.destroy();
    return { headers, body: null };
  }
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

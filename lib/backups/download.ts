import "server-only";
import type { Readable } from "node:stream";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { AppError } from "../errors";
import { assertRole, type TeamContext } from "../teams/context";
import { openArchive, succeededBackup } from "./open-archive";

/** A Range header that cannot be served (HTTP 416). */
export class RangeNotSatisfiable extends AppError {
  constructor(readonly size: number) {
    super("VALIDATION", `The requested range is outside the backup's ${size} bytes.`);
    this.name = "RangeNotSatisfiable";
  }
}

/** One `bytes=` range (inclusive), or null for the whole file. Several ranges are served as the whole file. */
export function parseRange(header: string | null, size: number): { start: number; end: number } | null {
  if (!header) return null;
  if (header.includes(",")) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) throw new RangeNotSatisfiable(size);
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) throw new RangeNotSatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) throw new RangeNotSatisfiable(size);
  return { start, end };
}

export interface Download {
  status: 200 | 206;
  headers: Record<string, string>;
  body: Readable;
}

/**
 * The plain `.tar.gz` of a backup (or one byte range of it: only the segments it covers are read),
 * decrypted while it streams; a segment failing authentication cuts the response short. Audited;
 * members and above only.
 */
export async function openDownload(
  t: TeamContext,
  backupId: string,
  rangeHeader: string | null,
  signal?: AbortSignal,
): Promise<Download> {
  assertRole(t, "member");
  const d = await db();
  const b = await succeededBackup(t, backupId);
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  const range = parseRange(rangeHeader, size);
  const length = range ? range.end - range.start + 1 : size;
  // A GET never asks for a (paid) retrieval: that is requestRetrieval's, behind a POST.
  const { body, from } = await openArchive(t, b, { range, signal, requestRetrieval: false });
  await recordAudit(d, t, {
    action: "backup.downloaded",
    target: { type: "backup", id: b.id, label: b.fileName },
    details: { from, ...(range && { range: `${range.start}-${range.end}` }) },
  });
  return {
    status: range ? 206 : 200,
    headers: {
      "Content-Type": "application/gzip",
      "Content-Length": String(length),
      "Content-Disposition": `attachment; filename="${b.fileName}"`,
      "Cache-Control": "private, no-store",
      "Accept-Ranges": "bytes",
      ...(range && { "Content-Range": `bytes ${range.start}-${range.end}/${size}` }),
    },
    body,
  };
}

/**
 * The Download button's POST while every copy is in archive storage: asks one provider for a
 * retrieval (recorded and audited) and says when to come back, says how far a retrieval is, or —
 * once a copy can be read — answers `ready` so the browser starts the download (a GET).
 */
export async function requestRetrieval(t: TeamContext, backupId: string): Promise<{ ready: true }> {
  assertRole(t, "member");
  const b = await succeededBackup(t, backupId);
  const { body } = await openArchive(t, b, { range: { start: 0, end: 0 } });
  body.destroy();
  return { ready: true };
}

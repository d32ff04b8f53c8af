import "server-only";
import { Readable } from "node:stream";
import { recordAuditOnce } from "../audit/record";
import { db } from "../db";
import { AppError } from "../errors";
import { assertRole, type TeamContext } from "../teams/context";
import { attachment } from "../web/attachment";
import { withDeclaredLength } from "../web/content-length";
import { toHttpResponse } from "../web/http";
import { openArchive, succeededBackup } from "./open-archive";

/** A Range header that cannot be served (HTTP 416). */
export class RangeNotSatisfiable extends AppError {
  constructor(readonly size: number) {
    super("VALIDATION", `The requested range is outside the backup's ${size} bytes.`);
    this.name = "RangeNotSatisfiable";
  }
}

/**
 * One `bytes=` range (inclusive), or null for the whole file. Several ranges are served as the
 * whole file, and so is a range in another unit, which HTTP says to ignore (RFC 9110 §14.2).
 */
export function parseRange(header: string | null, size: number): { start: number; end: number } | null {
  if (!header) return null;
  if (header.includes(",")) return null;
  const spec = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!spec) return null;
  const m = /^(\d*)\s*-\s*(\d*)$/.exec(spec[1]!.trim());
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
  /** Null for a HEAD request. */
  body: Readable | null;
}

export interface DownloadOptions {
  /** The request's If-Range: the Range is served only while it names this backup's ETag or Last-Modified. */
  ifRange?: string | null;
  /** A HEAD request: the same headers, no body, no audit row. */
  head?: boolean;
  signal?: AbortSignal;
}

/** How long one person's downloads of one backup count as one in the audit log (resumptions, HEADs). */
const downloadAuditWindowMs = 6 * 3_600_000;

/**
 * The validators of a backup's download. The plain `.tar.gz` of a backup never changes, and the
 * SHA-256 on its row (of the stored object: the plaintext itself, or its authenticated encryption)
 * names it: a strong ETag. Last-Modified is when the backup finished.
 */
function downloadValidators(b: { sha256: string | null; id: string; finishedAt: Date | null }) {
  const lastModified = new Date(Math.floor((b.finishedAt ?? new Date(0)).getTime() / 1000) * 1000);
  return { etag: `"${b.sha256 ?? b.id}"`, lastModified };
}

/** RFC 9110 §13.1.5: an entity tag matches strongly (never a weak one); a date matches exactly. */
function ifRangeMatches(ifRange: string, v: { etag: string; lastModified: Date }): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return value === v.etag;
  return Date.parse(value) === v.lastModified.getTime();
}

/**
 * The plain `.tar.gz` of a backup (or one byte range of it: only the segments it covers are read),
 * decrypted while it streams; a segment failing authentication cuts the response short. A Range
 * whose If-Range no longer matches is answered with the whole file (200). Audited once per person
 * and backup within `downloadAuditWindowMs` (a resumed download is one download); members and above only.
 */
export async function openDownload(
  t: TeamContext,
  backupId: string,
  rangeHeader: string | null,
  opts: DownloadOptions = {},
): Promise<Download> {
  assertRole(t, "member");
  const d = await db();
  const b = await succeededBackup(t, backupId);
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  const validators = downloadValidators(b);
  const current = !opts.ifRange || ifRangeMatches(opts.ifRange, validators);
  const range = current ? parseRange(rangeHeader, size) : null;
  const length = range ? range.end - range.start + 1 : size;
  // A GET never asks for a (paid) retrieval: that is requestRetrieval's, behind a POST. A HEAD
  // opens the first byte, so it answers what a GET would (a copy can be read, or a 409), and
  // holds nothing against retention after.
  const { body, from } = await openArchive(t, b, {
    range: opts.head ? { start: 0, end: 0 } : range,
    signal: opts.signal,
    requestRetrieval: false,
    hold: !opts.head,
  });
  if (opts.head) body.destroy();
  else
    await recordAuditOnce(
      d,
      t,
      {
        action: "backup.downloaded",
        target: { type: "backup", id: b.id, label: b.fileName },
        details: { from, ...(range && { range: `${range.start}-${range.end}` }) },
      },
      downloadAuditWindowMs,
    ).catch((err: unknown) => {
      body.destroy(); // nobody will read it: its storage read (and the backup's read hold) ends here
      throw err;
    });
  return {
    status: range ? 206 : 200,
    headers: {
      "Content-Type": "application/gzip",
      "Content-Length": String(length),
      "Content-Disposition": attachment(b.fileName),
      "Cache-Control": "private, no-store",
      "Accept-Ranges": "bytes",
      ETag: validators.etag,
      "Last-Modified": validators.lastModified.toUTCString(),
      ...(range && { "Content-Range": `bytes ${range.start}-${range.end}/${size}` }),
    },
    body: opts.head ? null : body,
  };
}

/**
 * The HTTP answer to a GET or HEAD of a backup's download (the route and the REST API share it):
 * Range, If-Range, 416 for a range outside the file (the error JSON, and a Content-Range giving the
 * size), and the Content-Length Next.js would drop (lib/web/content-length). `request.signal`
 * stops the storage read when the client goes away.
 */
export async function downloadResponse(t: TeamContext, backupId: string, request: Request): Promise<Response> {
  try {
    const d = await openDownload(t, backupId, request.headers.get("range"), {
      ifRange: request.headers.get("if-range"),
      head: request.method === "HEAD",
      signal: request.signal,
    });
    const body = d.body && (Readable.toWeb(d.body) as ReadableStream<Uint8Array>);
    return new Response(body, { status: d.status, headers: withDeclaredLength(d.headers) });
  } catch (err) {
    if (err instanceof RangeNotSatisfiable) {
      // Every error's one JSON body (lib/web/http), with the Content-Range RFC 9110 §15.5.17 asks for: the size.
      const answer = toHttpResponse(err);
      return new Response(request.method === "HEAD" ? null : answer.body, {
        status: 416,
        headers: {
          "Content-Type": "application/json",
          "Content-Range": `bytes */${err.size}`,
          "Cache-Control": "private, no-store",
        },
      });
    }
    throw err;
  }
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

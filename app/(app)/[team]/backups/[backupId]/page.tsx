import type { Metadata } from "next";
import { encryptionText } from "@/lib/openpgp/encryption";
import Link from "next/link";
import { LocalTime } from "@/app/_components/local-time";
import { PageHeader } from "@/app/_components/page-header";
import { describeCompression } from "@/lib/backups/compression";
import { archiveRetrievals } from "@/lib/backups/retrieval";
import { getBackup, type BackupDetail } from "@/lib/backups/queries";
import { describeChecks, formatBytes, formatDuration } from "@/lib/format";
import { trashStateOf } from "@/lib/trash/queries";
import { latestVerificationRuns } from "@/lib/restores/queries";
import { pageRow, pageTeam } from "@/lib/web/page";
import { roleAtLeast } from "@/lib/teams/roles";
import { TableScroll } from "@/app/_components/table-scroll";
import {
  AutoRefresh,
  CancelButton,
  DownloadButton,
  Progress,
  RemoveFailedUploadButton,
  StatusBadge,
  TrashButtons,
  VerifiedBadge,
} from "../backup-parts";

export const metadata: Metadata = { title: "Backup" };

const when = (d: Date | string | null) => <LocalTime at={d} />;
const triggerLabel = {
  manual: "Back up now",
  schedule: "Schedule",
  api: "API",
  upload: "Upload",
  safety: "Before a restore",
  import: "Taken back from storage",
} as const;

type Retrievals = Awaited<ReturnType<typeof archiveRetrievals>>;

/** Where the backup is stored; archived copies say whether a retrieval is needed or on its way. */
function Locations({ b, retrievals }: { b: BackupDetail; retrievals: Retrievals }) {
  const retrievalNote = (r: { requestedAt: Date; readyBy: Date } | null) =>
    r ? (
      <>
        Retrieval requested {when(r.requestedAt)}, ready by {when(r.readyBy)}
      </>
    ) : (
      "Archive storage — needs retrieval before download"
    );
  return (
    <TableScroll label="Stored copies" className="card p-0">
      <table className="w-full text-sm" data-testid="backup-locations">
        <thead className="text-left text-xs uppercase text-zinc-500 dark:text-zinc-400">
          <tr>
            <th className="px-4 py-2">Destination</th>
            <th className="px-4 py-2">State</th>
            <th className="px-4 py-2">Storage class</th>
            <th className="px-4 py-2">Size</th>
            <th className="px-4 py-2">Object</th>
          </tr>
        </thead>
        <tbody>
          {b.locations.map((l) => (
            <tr key={l.id} className="border-t border-zinc-200 dark:border-zinc-800">
              <td className="px-4 py-2">{l.destinationName}</td>
              <td className="px-4 py-2">
                {l.status}
                {l.error && <span className="block text-xs text-red-700 dark:text-red-400">{l.error}</span>}
                {l.damage && (
                  <span className="block text-xs text-red-700 dark:text-red-400" data-testid="copy-damage">
                    Damaged: {l.damage}
                  </span>
                )}
              </td>
              <td className="px-4 py-2">
                {l.storageClass ?? "—"}
                {retrievals.has(l.id) && (
                  <span className="block text-xs text-amber-700 dark:text-amber-400" data-testid="retrieval-state">
                    {retrievalNote(retrievals.get(l.id)!)}
                  </span>
                )}
              </td>
              <td className="px-4 py-2 tabular-nums">{l.sizeBytes !== null ? formatBytes(l.sizeBytes) : "—"}</td>
              <td className="break-all px-4 py-2 font-mono text-xs">{l.objectKey}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

export default async function BackupPage({ params }: { params: Promise<{ team: string; backupId: string }> }) {
  const { team, backupId } = await params;
  const t = await pageTeam(team);
  const b = await pageRow(getBackup(t, backupId));
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  const trash = await trashStateOf(t, b.id);
  const active = b.status === "running" || b.status === "queued";
  const retrievals = await archiveRetrievals(t, b.id);
  const verificationRun = (await latestVerificationRuns(t, [b.id])).get(b.id);
  const stored = b.locations.filter((l) => l.status === "stored");
  const archivedOnly = stored.length > 0 && retrievals.size === stored.length;
  return (
    <div className="space-y-6">
      <AutoRefresh active={active} />
      <PageHeader
        title={`Backup of ${b.serverName}`}
        description={b.fileName}
        help={{ article: "upload-download", label: "How downloads work" }}
      >
        <div className="flex flex-wrap items-center gap-2">
          {member && active && <CancelButton slug={t.slug} backupId={b.id} />}
          {member && b.trigger === "upload" && b.status === "failed" && (
            <RemoveFailedUploadButton slug={t.slug} backupId={b.id} after={`/${t.slug}/backups`} />
          )}
          {admin && (b.status === "succeeded" || b.status === "trashed") && (
            <TrashButtons slug={t.slug} backupId={b.id} trashed={b.status === "trashed"} />
          )}
          {b.status === "succeeded" && (
            <Link className="btn-secondary" href={`/${t.slug}/backups/${b.id}/restore`}>
              Restore or verify
            </Link>
          )}
          {b.status === "succeeded" &&
            (member ? (
              <DownloadButton
                slug={t.slug}
                backupId={b.id}
                href={`/api/teams/${t.slug}/backups/${b.id}/download`}
                fileName={b.fileName}
                archived={archivedOnly}
              />
            ) : (
              <span className="muted text-sm">Members and above can download backups.</span>
            ))}
          {b.status === "succeeded" && member && b.encrypted && b.encryption === "openpgp" && !archivedOnly && (
            <a className="btn-secondary" href={`/api/teams/${t.slug}/backups/${b.id}/object`} download>
              Download .gpg
            </a>
          )}
        </div>
      </PageHeader>
      <div className="card grid gap-3 text-sm sm:grid-cols-2 lg:grid-cols-3">
        <div>
          <p className="muted">Status</p>
          <p className="mt-1 space-x-1">
            <StatusBadge status={b.status} />
            {b.encrypted ? (
              <span className="badge" data-testid="encrypted-indicator">
                Encrypted: {encryptionText[b.encryption]}
              </span>
            ) : (
              <span className="badge">Not encrypted</span>
            )}
            <VerifiedBadge backup={b} run={verificationRun} explain />
          </p>
        </div>
        <div>
          <p className="muted">Trigger</p>
          <p className="mt-1">
            {triggerLabel[b.trigger]}
            {b.scheduleName && b.scheduleId && (
              <>
                {" "}
                (
                <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/schedules`}>
                  {b.scheduleName}
                </Link>
                )
              </>
            )}{" "}
            by {b.requestedBy ?? "—"}
          </p>
        </div>
        <div>
          <p className="muted">{b.status === "running" ? "Progress" : "Duration"}</p>
          <p className="mt-1">
            {b.status === "running" ? <Progress {...b} /> : b.finishedAt ? formatDuration(b.elapsedMs) : "—"}
          </p>
        </div>
        <div>
          <p className="muted">Started</p>
          <p className="mt-1">{when(b.startedAt)}</p>
        </div>
        <div>
          <p className="muted">Finished</p>
          <p className="mt-1">{when(b.finishedAt)}</p>
        </div>
        {b.uploadedName && (
          <div>
            <p className="muted">Uploaded file</p>
            <p className="mt-1 break-all font-mono text-xs" data-testid="uploaded-name">
              {b.uploadedName}
            </p>
          </div>
        )}
        {b.trigger === "upload" && b.status === "succeeded" && (
          <div>
            <p className="muted">Archive made</p>
            <p className="mt-1" data-testid="archived-at">
              {b.archivedAt ? <LocalTime at={b.archivedAt} /> : "Not recorded in the archive"}
            </p>
          </div>
        )}
        {(b.trigger !== "upload" || b.compressedBy) && (
          <div>
            <p className="muted">Compression</p>
            <p className="mt-1" data-testid="backup-compression">
              {describeCompression(b.compression, b.compressedBy)}
            </p>
          </div>
        )}
        <div>
          <p className="muted">Size</p>
          <p className="mt-1">
            {b.archiveBytes !== null ? `${formatBytes(b.archiveBytes)} .tar.gz` : "—"}
            {b.encrypted && b.sizeBytes !== null && ` (${formatBytes(b.sizeBytes)} stored)`}
          </p>
        </div>
        {b.sha256 && (
          <div className="sm:col-span-2 lg:col-span-3">
            <p className="muted">SHA-256 of the stored object</p>
            <p className="mt-1 break-all font-mono text-xs">{b.sha256}</p>
          </div>
        )}
        {b.verification && (
          <div className="sm:col-span-2 lg:col-span-3" data-testid="verification-summary">
            <p className="muted">Verification</p>
            <p className="mt-1">
              {b.verification.status === "verified" ? (
                <>
                  Restored into a scratch database {when(b.verification.at)}:{" "}
                  {describeChecks(b.verification.tables, b.verification.files)} — all match.
                </>
              ) : (
                <>
                  Failed {when(b.verification.at)}: {b.verification.differences.slice(0, 3).join("; ")}
                </>
              )}{" "}
              <Link
                className="text-indigo-600 hover:underline dark:text-indigo-400"
                href={`/${t.slug}/backups/${b.id}/restore`}
              >
                History
              </Link>
            </p>
          </div>
        )}
        {b.tier && b.status === "succeeded" && (
          <div>
            <p className="muted">Retention tier</p>
            <p className="mt-1 capitalize">{b.tier}</p>
          </div>
        )}
        {b.status === "trashed" && trash?.trashedAt && (
          <div className="sm:col-span-2 lg:col-span-3" data-testid="trash-state">
            <p className="muted">In the trash since {when(trash.trashedAt)}</p>
            <p className="mt-1">
              {trash.trashedReason} Its stored copies are deleted on {when(trash.deletesAt)} unless an admin restores
              it.
            </p>
          </div>
        )}
        {b.status === "succeeded" && trash?.pinnedAt && (
          <div className="sm:col-span-2 lg:col-span-3">
            <p className="muted">Restored from the trash {when(trash.pinnedAt)}</p>
            <p className="mt-1">Retention leaves it alone; an admin can still delete it.</p>
          </div>
        )}
        {b.expiredAt && (
          <div className="sm:col-span-2 lg:col-span-3">
            <p className="muted">Expired {when(b.expiredAt)}</p>
            <p className="mt-1">{b.expiredReason}</p>
          </div>
        )}
        {b.error && (
          <div className="sm:col-span-2 lg:col-span-3">
            <p className="muted">Error</p>
            <p className="mt-1 text-red-700 dark:text-red-400" data-testid="backup-error">
              {b.error}
            </p>
          </div>
        )}
      </div>
      {b.locations.length > 0 && <Locations b={b} retrievals={retrievals} />}
      <div className="card">
        <p className="font-medium">Run log</p>
        <ol className="mt-2 space-y-1 font-mono text-xs" data-testid="backup-log">
          {b.log.map((l) => (
            <li key={l.id} className={l.level === "error" ? "text-red-700 dark:text-red-400" : ""}>
              <span className="muted">
                <LocalTime at={l.createdAt} style="time" />
              </span>{" "}
              {l.message}
            </li>
          ))}
          {b.log.length === 0 && <li className="muted">Waiting to start…</li>}
        </ol>
      </div>
    </div>
  );
}

import type { Metadata } from "next";
import { encryptionText } from "@/lib/openpgp/encryption";
import Link from "next/link";
import { HelpLink } from "@/app/_components/help-link";
import { LocalTime } from "@/app/_components/local-time";
import { PageHeader } from "@/app/_components/page-header";
import { listBackups } from "@/lib/backups/queries";
import { idOf } from "@/lib/ids";
import { listDestinations } from "@/lib/destinations/queries";
import { latestVerificationRuns } from "@/lib/restores/queries";
import { formatBytes, formatDuration } from "@/lib/format";
import { pageTeam } from "@/lib/web/page";
import { listServers } from "@/lib/servers/queries";
import { roleAtLeast } from "@/lib/teams/roles";
import { AutoRefresh, Progress, RemoveFailedUploadButton, StatusBadge, VerifiedBadge } from "./backup-parts";
import { UploadForm } from "./upload-form";
import { TableScroll } from "@/app/_components/table-scroll";

export const metadata: Metadata = { title: "Backups" };

const triggerLabel = {
  manual: "Manual",
  schedule: "Schedule",
  api: "API",
  upload: "Upload",
  safety: "Before a restore",
  import: "Taken back from storage",
} as const;
const when = (d: Date) => <LocalTime at={d} />;

export default async function BackupsPage({
  params,
  searchParams,
}: {
  params: Promise<{ team: string }>;
  searchParams: Promise<{ before?: string; server?: string }>;
}) {
  const { team } = await params;
  const { before, server } = await searchParams;
  const t = await pageTeam(team);
  // A hand-edited "Older" link with an impossible time shows the first page, not an error.
  const cursor = before?.match(/^(\d{1,15})_(bkp_[0-9a-z]{26})$/);
  const [{ rows, next }, servers, destinations] = await Promise.all([
    listBackups(t, {
      // Like a hand-edited cursor, a server filter that is no server id (repeated, a NUL) shows them all.
      serverId: idOf("srv", "server").safeParse(server).success ? server : undefined,
      before: cursor ? { createdAt: new Date(Number(cursor[1])), id: cursor[2]! } : undefined,
    }),
    listServers(t),
    listDestinations(t),
  ]);
  const verificationRuns = await latestVerificationRuns(
    t,
    rows.map((r) => r.id),
  );
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  return (
    <div className="space-y-6">
      <AutoRefresh active={rows.some((r) => r.status === "running" || r.status === "queued")} />
      <PageHeader
        title="Backups"
        description="Every backup run: what it stored, where, whether it is encrypted, and its log. Start one from a server's page or a schedule."
        help={{ article: "encryption", label: "How backups are encrypted" }}
      >
        {admin && (
          <Link className="btn-secondary" href={`/${t.slug}/backups/trash`}>
            Trash
          </Link>
        )}
      </PageHeader>
      {rows.length === 0 ? (
        <div className="card text-center">
          <p className="font-medium">No backups yet</p>
          <p className="muted mt-1">Open a server and choose Back up now, or create a schedule.</p>
        </div>
      ) : (
        <TableScroll label="Backups" className="card p-0">
          <table className="w-full text-sm" data-testid="backups-table">
            <thead className="text-left text-xs uppercase text-zinc-500 dark:text-zinc-400">
              <tr>
                <th className="px-4 py-2">Started</th>
                <th className="px-4 py-2">Server</th>
                <th className="px-4 py-2">Status</th>
                <th className="px-4 py-2">Trigger</th>
                <th className="px-4 py-2">Size</th>
                <th className="px-4 py-2">Duration</th>
                <th className="px-4 py-2">Stored in</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((b) => (
                <tr
                  key={b.id}
                  className="border-t border-zinc-200 dark:border-zinc-800"
                  data-testid={`backup-row-${b.id}`}
                >
                  <td className="px-4 py-2">
                    <Link
                      className="text-indigo-600 hover:underline dark:text-indigo-400"
                      href={`/${t.slug}/backups/${b.id}`}
                    >
                      {when(b.startedAt ?? b.createdAt)}
                    </Link>
                  </td>
                  <td className="px-4 py-2">{b.serverName}</td>
                  <td className="space-x-1 px-4 py-2">
                    <StatusBadge status={b.status} />
                    {b.encrypted && <span className="badge">Encrypted: {encryptionText[b.encryption]}</span>}
                    <VerifiedBadge backup={b} run={verificationRuns.get(b.id)} />
                    {member && b.trigger === "upload" && b.status === "failed" && (
                      <RemoveFailedUploadButton slug={t.slug} backupId={b.id} />
                    )}
                  </td>
                  <td className="px-4 py-2">
                    {b.trigger === "schedule" && b.scheduleName
                      ? `Schedule: ${b.scheduleName}`
                      : b.uploadedName
                        ? `Upload: ${b.uploadedName}`
                        : triggerLabel[b.trigger]}
                  </td>
                  <td className="px-4 py-2 tabular-nums">
                    {b.status === "running" ? (
                      <Progress {...b} />
                    ) : b.sizeBytes !== null ? (
                      formatBytes(b.sizeBytes)
                    ) : (
                      "—"
                    )}
                  </td>
                  <td className="px-4 py-2 tabular-nums">{b.finishedAt ? formatDuration(b.elapsedMs) : "—"}</td>
                  <td className="px-4 py-2">
                    {b.locations
                      .filter((l) => l.status === "stored")
                      .map((l) => l.destinationName)
                      .join(", ") || "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {next && (
        <Link
          className="btn-secondary"
          href={`/${t.slug}/backups?before=${next.createdAt.getTime()}_${next.id}${server ? `&server=${server}` : ""}`}
        >
          Older backups
        </Link>
      )}
      {member && servers.length > 0 && destinations.length > 0 && (
        <details className="card">
          <summary className="cursor-pointer font-medium">Upload a backup</summary>
          <p className="muted mt-2 text-sm">
            Import an existing .tar.gz (from another tool, say) as a backup of one of your servers. It is streamed to
            the destinations you choose, encrypted if you ask.{" "}
            <HelpLink article="upload-download">How uploads and downloads work</HelpLink>
          </p>
          <div className="mt-4 max-w-2xl">
            <UploadForm
              slug={t.slug}
              servers={servers.map((s) => ({ id: s.id, name: s.name }))}
              destinations={destinations.map((d) => ({ id: d.id, name: d.name }))}
            />
          </div>
        </details>
      )}
    </div>
  );
}

import type { Metadata } from "next";
import Link from "next/link";
import { LocalTime } from "@/app/_components/local-time";
import { PageHeader } from "@/app/_components/page-header";
import { getBackup } from "@/lib/backups/queries";
import { describeChecks, formatBytes, formatCount, formatDuration } from "@/lib/format";
import { manifestOf } from "@/lib/restores/mutations";
import { getRestore, listRestores, type RestoreView } from "@/lib/restores/queries";
import { pageRow, pageTeam } from "@/lib/web/page";
import { listDatabaseConnections, listServers } from "@/lib/servers/queries";
import type { TeamContext } from "@/lib/teams/context";
import { roleAtLeast } from "@/lib/teams/roles";
import { globalsOf, type Manifest } from "@/lib/backups/manifest";
import { AutoRefresh, StatusBadge, VerifiedBadge } from "../../backup-parts";
import { CancelRestoreButton, RestoreDatabaseForm, RestoreFolderForm, VerifyNowForm } from "./restore-forms";
import { TableScroll } from "@/app/_components/table-scroll";

export const metadata: Metadata = { title: "Restore" };

const when = (d: Date | null) => <LocalTime at={d} />;

/** What is inside, from the manifest: databases with their dump size and tables, folders with their files. */
function Contents({ manifest }: { manifest: Manifest }) {
  const under = (p: string) => manifest.entries.filter((e) => e.path.startsWith(`files${p.replace(/\/+$/, "")}/`));
  return (
    <div className="card space-y-3" data-testid="restore-contents">
      <p className="font-medium">What is inside</p>
      {manifest.postgres.length > 0 && (
        <TableScroll label="Databases in this backup">
          <table className="w-full text-sm">
            <thead className="text-left text-xs uppercase text-zinc-500 dark:text-zinc-400">
              <tr>
                <th className="py-1">Database</th>
                <th className="py-1">Dump</th>
                <th className="py-1">Tables</th>
                <th className="py-1">Rows</th>
                <th className="py-1">PostgreSQL</th>
              </tr>
            </thead>
            <tbody>
              {manifest.postgres.map((p) => (
                <tr key={p.path} className="border-t border-zinc-200 dark:border-zinc-800">
                  <td className="py-1 font-mono">{p.database}</td>
                  <td className="py-1 tabular-nums">
                    {formatBytes(manifest.entries.find((e) => e.path === p.path)?.size ?? 0)}
                  </td>
                  <td className="py-1 tabular-nums">{p.tables.length}</td>
                  <td className="py-1 tabular-nums">{p.tables.reduce((n, x) => n + x.rows, 0)}</td>
                  <td className="py-1">{p.serverVersion}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {manifest.sources.flatMap((s) =>
        s.kind === "postgres_cluster"
          ? [
              <p key={s.id} className="text-sm">
                Every database of {s.name} ({s.host}:{s.port})
                {s.excludes.length > 0 && ` except ${s.excludes.join(", ")}`}, with its roles and tablespaces in{" "}
                <span className="font-mono">{s.globals.path}</span> (
                {s.globals.rolePasswords ? "with password hashes" : "without password hashes"}).
              </p>,
            ]
          : [],
      )}
      {manifest.sources
        .flatMap((s) => (s.kind === "directory" ? s.paths.map((p) => ({ source: s.name, path: p })) : []))
        .map(({ source, path }) => {
          const files = under(path);
          return (
            <p key={`${source}${path}`} className="text-sm">
              Folder <span className="font-mono">{path}</span> ({source}): {formatCount(files.length, "file")},{" "}
              {formatBytes(files.reduce((n, e) => n + e.size, 0))}
            </p>
          );
        })}
    </div>
  );
}

function target(r: RestoreView) {
  if (r.kind === "database")
    return `${r.targetDatabase} on ${r.serverName} (${r.mode === "replace" ? "replaced" : "new"})`;
  if (r.kind === "directory") return `${r.targetPath} on ${r.serverName} (${r.mode})`;
  return `scratch database on ${r.serverName}`;
}

/** What a finished restore put where, how long it took, and a link to the server it is on. */
function Restored({ slug, r }: { slug: string; r: RestoreView }) {
  const took = r.startedAt && r.finishedAt ? ` in ${formatDuration(r.elapsedMs)}` : "";
  const server = (
    <Link
      className="text-indigo-600 hover:underline dark:text-indigo-400"
      href={`/${slug}/servers/${r.serverId}`}
      data-testid="restore-target-link"
    >
      {r.serverName}
    </Link>
  );
  const s = r.restored;
  if (!s) return <span data-testid="restore-summary">Restored{took}.</span>;
  if (s.kind === "directory")
    return (
      <span data-testid="restore-summary">
        Restored {formatCount(s.files, "file")} ({formatBytes(s.bytes)}) to <span className="font-mono">{s.path}</span>{" "}
        on {server}
        {took}.
      </span>
    );
  return (
    <div data-testid="restore-summary">
      <span>
        Restored database <span className="font-mono">{s.database}</span> on {server}: {formatCount(s.tables, "table")},{" "}
        {formatCount(s.rows, "row")}
        {took}.
      </span>
      {s.counts.length > 0 && (
        <details className="mt-1">
          <summary className="muted cursor-pointer text-xs">Rows per table</summary>
          <table className="mt-1 text-xs" data-testid="restored-tables">
            <tbody>
              {s.counts.map((c) => (
                <tr key={c.table}>
                  <td className="pr-3 font-mono">{c.table}</td>
                  <td className="tabular-nums">{formatCount(c.rows, "row")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {s.tables > s.counts.length && (
            <p className="muted text-xs">…and {formatCount(s.tables - s.counts.length, "more table")}.</p>
          )}
        </details>
      )}
    </div>
  );
}

async function History({ t, jobs, member }: { t: TeamContext; jobs: RestoreView[]; member: boolean }) {
  const slug = t.slug;
  const logs = new Map(
    await Promise.all(jobs.slice(0, 5).map(async (j) => [j.id, (await getRestore(t, j.id)).log] as const)),
  );
  return (
    <TableScroll label="Restore history" className="card p-0">
      <table className="w-full text-sm" data-testid="restore-history">
        <thead className="text-left text-xs uppercase text-zinc-500 dark:text-zinc-400">
          <tr>
            <th className="px-4 py-2">Requested</th>
            <th className="px-4 py-2">What</th>
            <th className="px-4 py-2">Into</th>
            <th className="px-4 py-2">Status</th>
            <th className="px-4 py-2">Duration</th>
            <th className="px-4 py-2">Result</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((r) => (
            <tr
              key={r.id}
              className="border-t border-zinc-200 align-top dark:border-zinc-800"
              data-testid={`restore-row-${r.id}`}
            >
              <td className="px-4 py-2">
                {when(r.createdAt)}
                <span className="muted block text-xs">by {r.requestedBy ?? "—"}</span>
              </td>
              <td className="px-4 py-2">
                {r.kind === "verify"
                  ? "Verification"
                  : r.kind === "database"
                    ? `Restore ${r.members[0]}`
                    : `Restore ${r.members.join(", ")}`}
              </td>
              <td className="px-4 py-2">{target(r)}</td>
              <td className="space-y-1 px-4 py-2">
                <StatusBadge status={r.status} />
                {r.status === "running" && r.swapStartedAt ? (
                  <span className="muted block text-xs">Putting it in place — no longer cancellable</span>
                ) : (
                  member &&
                  (r.status === "queued" || r.status === "running") && (
                    <CancelRestoreButton slug={slug} restoreId={r.id} />
                  )
                )}
              </td>
              <td className="px-4 py-2 tabular-nums" data-testid="restore-progress">
                {r.status === "running"
                  ? `${formatBytes(r.bytesDone)}${r.totalBytes ? ` of ${formatBytes(r.totalBytes)}` : ""} · ${formatDuration(r.elapsedMs)}`
                  : r.finishedAt && r.startedAt
                    ? formatDuration(r.elapsedMs)
                    : "—"}
              </td>
              <td className="max-w-md px-4 py-2">
                {r.status === "succeeded" && r.kind === "verify" && r.result && (
                  <span>{describeChecks(r.result.tables, r.result.files)}: all match.</span>
                )}
                {r.status === "succeeded" && r.kind !== "verify" && <Restored slug={slug} r={r} />}
                {r.error && (
                  <span className="block text-red-700 dark:text-red-400" data-testid="restore-error">
                    {r.error}
                  </span>
                )}
                {r.result && r.result.differences.length > 1 && (
                  <ul className="mt-1 list-disc pl-4 text-xs text-red-700 dark:text-red-400">
                    {r.result.differences.slice(0, 20).map((d) => (
                      <li key={d}>{d}</li>
                    ))}
                  </ul>
                )}
                {r.safetyBackupId && (
                  <Link
                    className="block text-xs text-indigo-600 hover:underline dark:text-indigo-400"
                    href={`/${slug}/backups/${r.safetyBackupId}`}
                    data-testid="safety-backup-link"
                  >
                    Safety backup of the replaced database
                  </Link>
                )}
                {logs.has(r.id) && logs.get(r.id)!.length > 0 && (
                  <details className="mt-1">
                    <summary className="muted cursor-pointer text-xs">Log</summary>
                    <ol className="mt-1 space-y-0.5 font-mono text-xs">
                      {logs.get(r.id)!.map((l) => (
                        <li key={l.id} className={l.level === "error" ? "text-red-700 dark:text-red-400" : ""}>
                          <span className="muted">
                            <LocalTime at={l.createdAt} style="time" />
                          </span>{" "}
                          {l.message}
                        </li>
                      ))}
                    </ol>
                  </details>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

export default async function RestorePage({ params }: { params: Promise<{ team: string; backupId: string }> }) {
  const { team, backupId } = await params;
  const t = await pageTeam(team);
  const b = await pageRow(getBackup(t, backupId));
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const [jobs, connections, servers] = await Promise.all([
    listRestores(t, backupId),
    listDatabaseConnections(t),
    listServers(t),
  ]);
  const manifest = (() => {
    try {
      return manifestOf(b);
    } catch {
      return null;
    }
  })();
  const conns = connections.map((c) => ({
    id: c.id,
    name: c.name,
    serverId: c.serverId,
    serverName: c.serverName,
    where: `${c.pgUser}@${c.pgHost}:${c.pgPort}`,
  }));
  const dumps = manifest?.postgres.map((p) => ({ path: p.path, database: p.database })) ?? [];
  const ownConnection =
    conns.find((c) => manifest?.postgres.some((p) => p.source === c.id)) ??
    conns.find((c) => c.serverId === b.serverId) ??
    conns[0];
  const folders =
    manifest?.sources.flatMap((s) =>
      s.kind === "directory"
        ? s.paths.map((p) => ({ member: `files${p.replace(/\/+$/, "")}`, label: `${p} (${s.name})` }))
        : [],
    ) ?? [];
  const readable = b.status === "succeeded";
  return (
    <div className="space-y-6">
      <AutoRefresh active={jobs.some((j) => j.status === "queued" || j.status === "running")} />
      <PageHeader
        title={`Restore or verify: ${b.serverName}`}
        description={b.fileName}
        help={{ article: "restore-verify", label: "How restores and verification work" }}
      >
        <div className="flex items-center gap-2">
          <VerifiedBadge backup={b} run={jobs.find((j) => j.kind === "verify")?.status} />
          <Link className="btn-secondary" href={`/${t.slug}/backups/${b.id}`}>
            Back to the backup
          </Link>
        </div>
      </PageHeader>
      {manifest ? (
        <Contents manifest={manifest} />
      ) : (
        <div className="card muted text-sm">
          This archive has no Coffer manifest (an upload from another tool): its contents are not listed, and
          verification checks only that it reads completely.
        </div>
      )}
      {!readable && (
        <div className="card text-sm">
          This backup {b.status === "expired" ? "expired" : `is ${b.status}`}: there is nothing to restore.
        </div>
      )}
      {readable && member && (
        <div className="grid gap-6 lg:grid-cols-2">
          <section className="card space-y-3">
            <h2 className="font-medium">Verify</h2>
            <p className="muted text-sm">
              Restores every database into a scratch database (coffer_verify_…), compares each table&apos;s row count
              and every file&apos;s SHA-256 with the manifest, then drops the scratch database.
            </p>
            <VerifyNowForm slug={t.slug} backupId={b.id} connections={conns} />
          </section>
          {(dumps.length > 0 || !manifest) && (
            <section className="card space-y-3">
              <h2 className="font-medium">Restore a database</h2>
              {conns.length === 0 ? (
                <p className="muted text-sm">
                  Add a PostgreSQL source to a server first: its connection is how Coffer reaches the target database.
                </p>
              ) : (
                <RestoreDatabaseForm
                  slug={t.slug}
                  backupId={b.id}
                  dumps={dumps}
                  connections={conns}
                  defaultConnection={ownConnection?.id ?? ""}
                  globals={manifest ? globalsOf(manifest) : undefined}
                />
              )}
            </section>
          )}
          {folders.length > 0 && (
            <section className="card space-y-3">
              <h2 className="font-medium">Restore folders</h2>
              <RestoreFolderForm
                slug={t.slug}
                backupId={b.id}
                folders={folders}
                servers={servers.map((s) => ({ id: s.id, name: s.name }))}
              />
            </section>
          )}
        </div>
      )}
      {readable && !member && <p className="muted text-sm">Members and above can restore and verify backups.</p>}
      <section className="space-y-2">
        <h2 className="font-medium">Restores and verifications</h2>
        {jobs.length === 0 ? <p className="muted text-sm">None yet.</p> : <History t={t} jobs={jobs} member={member} />}
      </section>
    </div>
  );
}

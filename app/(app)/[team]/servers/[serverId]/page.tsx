import type { Metadata } from "next";
import { PageHeader } from "@/app/_components/page-header";
import { CheckStatus } from "@/app/_components/status";
import { listBackups } from "@/lib/backups/queries";
import { listDestinations } from "@/lib/destinations/queries";
import { env } from "@/lib/env";
import { pageTeam, pageRow } from "@/lib/web/page";
import { getServer, listSources } from "@/lib/servers/queries";
import { roleAtLeast } from "@/lib/teams/roles";
import Link from "next/link";
import { BackUpNowForm } from "../../backups/backup-parts";
import { ServerForm } from "../server-form";
import { AcceptHostKey, DeleteButton, SourceCard, SourceForm, TestButton } from "./server-parts";

export const metadata: Metadata = { title: "Server" };

export default async function ServerPage({ params }: { params: Promise<{ team: string; serverId: string }> }) {
  const { team, serverId } = await params;
  const t = await pageTeam(team);
  const server = await pageRow(getServer(t, serverId));
  const [sources, destinations, recent] = await Promise.all([
    listSources(t, server.id),
    listDestinations(t),
    listBackups(t, { serverId: server.id, limit: 5 }),
  ]);
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  return (
    <div className="space-y-6">
      <PageHeader
        title={server.name}
        help={{ article: "back-up-now", label: "How Back up now works" }}
        description={
          server.kind === "local" ? "The machine Coffer runs on." : `${server.username}@${server.host}:${server.port}`
        }
      >
        {member && <TestButton slug={t.slug} target={{ serverId: server.id }} label="Test connection" />}
      </PageHeader>
      {member && sources.length > 0 && (
        <BackUpNowForm
          slug={t.slug}
          options={{
            serverId: server.id,
            sources: sources.map((s) => ({ id: s.id, name: s.name })),
            destinations: destinations.map((d) => ({ id: d.id, name: d.name })),
          }}
        />
      )}
      {recent.rows.length > 0 && (
        <p className="text-sm">
          Last backup:{" "}
          <Link
            className="text-indigo-600 hover:underline dark:text-indigo-400"
            href={`/${t.slug}/backups/${recent.rows[0]!.id}`}
          >
            {recent.rows[0]!.status}
          </Link>{" "}
          ·{" "}
          <Link
            className="text-indigo-600 hover:underline dark:text-indigo-400"
            href={`/${t.slug}/backups?server=${server.id}`}
          >
            all backups of this server
          </Link>
        </p>
      )}
      <section className="card space-y-3">
        <h2 className="font-semibold">Connection</h2>
        <CheckStatus ok={server.checkOk} message={server.checkMessage} at={server.checkedAt} />
        {server.kind === "ssh" && (
          <dl className="grid gap-2 text-sm sm:grid-cols-[10rem_1fr]">
            <dt className="muted">Host key</dt>
            <dd className="font-mono text-xs break-all" data-testid="host-key">
              {server.hostKey ?? "Not pinned yet: pinned on the first successful connection."}
            </dd>
          </dl>
        )}
        {server.offeredHostKey && (
          <div
            className="rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-800 dark:bg-amber-950"
            data-testid="offered-host-key"
          >
            <p className="font-medium">The server presented a different host key</p>
            <p className="mt-1">
              New fingerprint: <span className="font-mono text-xs break-all">{server.offeredHostKey}</span>. Coffer
              refuses to connect until an admin confirms this change is expected (the server was reinstalled or its keys
              rotated). If not, someone may be intercepting the connection.
            </p>
            {admin ? (
              <AcceptHostKey slug={t.slug} serverId={server.id} fingerprint={server.offeredHostKey} />
            ) : (
              <p className="muted mt-2">Ask an admin to review it.</p>
            )}
          </div>
        )}
      </section>
      <section className="space-y-3">
        <h2 className="font-semibold">Sources</h2>
        {sources.length === 0 && (
          <p className="muted">
            Nothing to back up on this server yet. Add a PostgreSQL database or directories below.
          </p>
        )}
        <div className="grid gap-4 lg:grid-cols-2">
          {sources.map((s) => (
            <SourceCard key={s.id} slug={t.slug} source={s} canEdit={member} />
          ))}
        </div>
        {member && (
          <details className="card">
            <summary className="cursor-pointer font-medium">Add a source</summary>
            <div className="mt-4">
              <SourceForm slug={t.slug} serverId={server.id} />
            </div>
          </details>
        )}
      </section>
      {member && (
        <section className="card space-y-4">
          <details>
            <summary className="cursor-pointer font-semibold">Settings</summary>
            <div className="mt-4 max-w-2xl">
              <ServerForm slug={t.slug} server={server} allowLocal={env().allowLocalServers} />
            </div>
          </details>
          <DeleteButton slug={t.slug} target={{ serverId: server.id }} what={`server ${server.name} and its sources`} />
        </section>
      )}
    </div>
  );
}

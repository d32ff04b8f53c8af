import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/app/_components/page-header";
import { CheckStatus } from "@/app/_components/status";
import { pageTeam } from "@/lib/web/page";
import { listServers } from "@/lib/servers/queries";
import { roleAtLeast } from "@/lib/teams/roles";
import { TableScroll } from "@/app/_components/table-scroll";

export const metadata: Metadata = { title: "Servers" };

export default async function ServersPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const rows = await listServers(t);
  const canEdit = t.role === "system" || roleAtLeast(t.role, "member");
  return (
    <>
      <PageHeader
        title="Servers"
        description="The machines Coffer backs up, reached over SSH or the Coffer host itself, with the databases and directories on them."
      >
        {canEdit && (
          <Link href={`/${t.slug}/servers/new`} className="btn-primary">
            Add server
          </Link>
        )}
      </PageHeader>
      {rows.length === 0 ? (
        <div className="card text-center">
          <p className="font-medium">No servers yet</p>
          <p className="muted mt-1">
            {canEdit
              ? "Add the first server Coffer should back up: its SSH address and a key, or this machine itself."
              : "A member of the team can add servers."}
          </p>
        </div>
      ) : (
        <TableScroll label="Servers" className="card p-0">
          <table className="w-full text-left text-sm" data-testid="servers">
            <thead className="border-b border-zinc-200 text-xs text-zinc-500 dark:text-zinc-400 uppercase dark:border-zinc-800">
              <tr>
                <th className="px-5 py-3 font-medium">Server</th>
                <th className="px-5 py-3 font-medium">Address</th>
                <th className="px-5 py-3 font-medium">Sources</th>
                <th className="px-5 py-3 font-medium">Last test</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
              {rows.map((s) => (
                <tr key={s.id}>
                  <td className="px-5 py-3">
                    <Link
                      href={`/${t.slug}/servers/${s.id}`}
                      className="font-medium text-indigo-700 hover:underline dark:text-indigo-300"
                    >
                      {s.name}
                    </Link>
                  </td>
                  <td className="muted px-5 py-3">
                    {s.kind === "local" ? "This Coffer host" : `${s.username}@${s.host}:${s.port}`}
                  </td>
                  <td className="px-5 py-3">{s.sourceCount}</td>
                  <td className="px-5 py-3">
                    <CheckStatus ok={s.checkOk} message={s.checkMessage} at={s.checkedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </>
  );
}

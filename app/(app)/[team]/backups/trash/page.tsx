import type { Metadata } from "next";
import Link from "next/link";
import { LocalTime } from "@/app/_components/local-time";
import { PageHeader } from "@/app/_components/page-header";
import { formatBytes } from "@/lib/format";
import { getTrashDays, listTrash } from "@/lib/trash/queries";
import { pageTeam } from "@/lib/web/page";
import { TrashButtons } from "../backup-parts";
import { TableScroll } from "@/app/_components/table-scroll";

export const metadata: Metadata = { title: "Trash" };

const when = (d: Date | null) => <LocalTime at={d} />;

export default async function TrashPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team, "admin");
  const [rows, days] = await Promise.all([listTrash(t), getTrashDays(t)]);
  return (
    <div className="space-y-6">
      <PageHeader
        title="Trash"
        description={`Backups deleted by an admin or removed by retention. Their stored copies are kept for ${days} day${days === 1 ? "" : "s"} (Settings), then deleted; until then an admin can restore them.`}
      />
      {rows.length === 0 ? (
        <div className="card text-center">
          <p className="font-medium">The trash is empty</p>
        </div>
      ) : (
        <TableScroll label="Backups in the trash" className="card p-0">
          <table className="w-full text-sm" data-testid="trash-table">
            <thead className="text-left text-xs uppercase text-zinc-500 dark:text-zinc-400">
              <tr>
                <th className="px-4 py-2">Backup</th>
                <th className="px-4 py-2">Size</th>
                <th className="px-4 py-2">Removed</th>
                <th className="px-4 py-2">Deleted on</th>
                <th className="px-4 py-2" />
              </tr>
            </thead>
            <tbody>
              {rows.map((b) => (
                <tr
                  key={b.id}
                  className="border-t border-zinc-200 dark:border-zinc-800"
                  data-testid={`trash-row-${b.id}`}
                >
                  <td className="px-4 py-2">
                    <Link
                      className="text-indigo-600 hover:underline dark:text-indigo-400"
                      href={`/${t.slug}/backups/${b.id}`}
                    >
                      {b.fileName}
                    </Link>
                    <span className="muted block text-xs">{b.serverName}</span>
                  </td>
                  <td className="px-4 py-2 tabular-nums">{b.sizeBytes !== null ? formatBytes(b.sizeBytes) : "—"}</td>
                  <td className="px-4 py-2">
                    {when(b.trashedAt)}
                    <span className="muted block text-xs">{b.trashedReason}</span>
                  </td>
                  <td className="px-4 py-2">{when(b.deletesAt)}</td>
                  <td className="px-4 py-2">
                    <TrashButtons slug={t.slug} backupId={b.id} trashed />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </div>
  );
}

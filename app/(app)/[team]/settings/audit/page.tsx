import type { Metadata } from "next";
import Link from "next/link";
import { auditFilterSchema, listAuditEvents } from "@/lib/audit/queries";
import { pageTeam } from "@/lib/web/page";
import { TableScroll } from "@/app/_components/table-scroll";

export const metadata: Metadata = { title: "Audit log" };

export default async function AuditPage({
  params,
  searchParams,
}: {
  params: Promise<{ team: string }>;
  searchParams: Promise<Record<string, string | undefined>>;
}) {
  const { team } = await params;
  const t = await pageTeam(team, "admin");
  const parsed = auditFilterSchema.safeParse(await searchParams);
  const filter = parsed.success ? parsed.data : {};
  const { events, nextCursor } = await listAuditEvents(t, filter);
  const query = (extra: Record<string, string>) =>
    new URLSearchParams({
      ...(filter.action && { action: filter.action }),
      ...(filter.actor && { actor: filter.actor }),
      ...extra,
    }).toString();
  return (
    <div className="space-y-4">
      <form className="flex flex-wrap items-end gap-3" method="get">
        <div>
          <label htmlFor="audit-action" className="label">
            Action
          </label>
          <input
            id="audit-action"
            name="action"
            className="input"
            placeholder="member. or invitation."
            defaultValue={filter.action}
          />
        </div>
        <div>
          <label htmlFor="audit-actor" className="label">
            Actor
          </label>
          <input
            id="audit-actor"
            name="actor"
            className="input"
            placeholder="e-mail or token"
            defaultValue={filter.actor}
          />
        </div>
        <button className="btn-secondary">Filter</button>
        <a className="btn-secondary" href={`/api/teams/${t.slug}/audit-log?${query({})}`} download>
          Export CSV
        </a>
        {(filter.action || filter.actor) && (
          <Link href={`/${t.slug}/settings/audit`} className="muted hover:underline">
            Clear
          </Link>
        )}
      </form>
      <TableScroll label="Audit events" className="card p-0">
        {events.length === 0 ? (
          <p className="muted p-5">No events match.</p>
        ) : (
          <table className="w-full text-left text-sm" data-testid="audit-events">
            <thead className="border-b border-zinc-200 text-xs text-zinc-500 dark:text-zinc-400 uppercase dark:border-zinc-800">
              <tr>
                <th className="px-4 py-3 font-medium">When (UTC)</th>
                <th className="px-4 py-3 font-medium">Actor</th>
                <th className="px-4 py-3 font-medium">Action</th>
                <th className="px-4 py-3 font-medium">Target</th>
                <th className="px-4 py-3 font-medium">IP</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
              {events.map((e) => (
                <tr key={e.id}>
                  <td className="px-4 py-2 whitespace-nowrap">{e.at.toISOString().replace("T", " ").slice(0, 19)}</td>
                  <td className="px-4 py-2">{e.actor}</td>
                  <td className="px-4 py-2 font-mono text-xs">{e.action}</td>
                  <td className="px-4 py-2">
                    {e.targetLabel ?? e.targetType ?? ""}
                    {e.details && <div className="muted font-mono text-xs break-all">{JSON.stringify(e.details)}</div>}
                  </td>
                  <td className="muted px-4 py-2">{e.ip ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </TableScroll>
      <div className="flex gap-3">
        {filter.before && (
          <Link className="btn-secondary" href={`/${t.slug}/settings/audit?${query({})}`}>
            Newest
          </Link>
        )}
        {nextCursor && (
          <Link className="btn-secondary" href={`/${t.slug}/settings/audit?${query({ before: nextCursor })}`}>
            Older
          </Link>
        )}
      </div>
    </div>
  );
}

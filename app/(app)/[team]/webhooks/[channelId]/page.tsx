import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/app/_components/page-header";
import { getChannel, listDeliveries } from "@/lib/webhooks/queries";
import { deliveryStatuses } from "@/lib/webhooks/schemas";
import { pageRow, pageTeam } from "@/lib/web/page";
import { RedeliverButton } from "./redeliver-button";
import { TableScroll } from "@/app/_components/table-scroll";
import { LocalTime } from "@/app/_components/local-time";

export const metadata: Metadata = { title: "Delivery log" };

const at = (d: Date | null) => <LocalTime at={d} style="seconds" />;
const statusClass = {
  succeeded: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  failed: "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
  pending: "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
};

export default async function DeliveryLogPage({
  params,
  searchParams,
}: {
  params: Promise<{ team: string; channelId: string }>;
  searchParams: Promise<{ status?: string }>;
}) {
  const { team, channelId } = await params;
  const { status: asked } = await searchParams;
  const t = await pageTeam(team, "admin");
  const channel = await pageRow(getChannel(t, channelId));
  const status = deliveryStatuses.find((s) => s === asked);
  const rows = await listDeliveries(t, channel.id, { status, limit: 100 });
  const filters = [undefined, ...deliveryStatuses];
  return (
    <div className="space-y-4">
      <PageHeader
        title={`Delivery log: ${channel.description || channel.urlHint || channel.kind}`}
        description="Every event sent to this channel in the last 30 days, newest first, with the last attempt's answer. Failed deliveries are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, under the same webhook-id."
      >
        <Link href={`/${t.slug}/webhooks`} className="btn-secondary">
          All channels
        </Link>
      </PageHeader>
      <nav aria-label="Filter by status" className="flex gap-2 text-sm">
        {filters.map((s) => (
          <Link
            key={s ?? "all"}
            href={`/${t.slug}/webhooks/${channel.id}${s ? `?status=${s}` : ""}`}
            aria-current={s === status ? "page" : undefined}
            className={`rounded-md px-2 py-1 ${s === status ? "bg-indigo-50 font-medium text-indigo-700 dark:bg-indigo-950 dark:text-indigo-300" : "text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"}`}
          >
            {s ? s[0]!.toUpperCase() + s.slice(1) : "All"}
          </Link>
        ))}
      </nav>
      <TableScroll label="Deliveries" className="card p-0">
        <table className="w-full text-left text-sm" data-testid="deliveries">
          <thead className="border-b border-zinc-200 text-xs text-zinc-500 dark:text-zinc-400 uppercase dark:border-zinc-800">
            <tr>
              <th className="px-4 py-2 font-medium">Event</th>
              <th className="px-4 py-2 font-medium">Time</th>
              <th className="px-4 py-2 font-medium">Status</th>
              <th className="px-4 py-2 font-medium">Attempts</th>
              <th className="px-4 py-2 font-medium">Answer</th>
              <th className="px-4 py-2 font-medium">Latency</th>
              <th className="px-4 py-2 font-medium" />
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
            {rows.length === 0 && (
              <tr>
                <td colSpan={7} className="muted px-4 py-6 text-center">
                  Nothing {status ? status : "delivered"} yet.
                </td>
              </tr>
            )}
            {rows.map((r) => (
              <tr key={r.id} data-testid="delivery-row" data-event={r.type} data-status={r.status}>
                <td className="px-4 py-2 align-top">
                  <span className="font-medium">{r.type}</span> {r.test && <span className="badge">test</span>}
                  {r.redeliveryOf && <span className="badge">redelivery</span>}
                  <div className="muted font-mono text-xs">{r.eventId}</div>
                </td>
                <td className="px-4 py-2 align-top whitespace-nowrap">
                  {at(r.lastAttemptAt ?? r.createdAt)}
                  {r.status === "pending" && <div className="muted text-xs">next attempt {at(r.nextAttemptAt)}</div>}
                </td>
                <td className="px-4 py-2 align-top">
                  <span className={`badge ${statusClass[r.status]}`}>{r.status}</span>
                </td>
                <td className="px-4 py-2 align-top tabular-nums">{r.attempts}</td>
                <td className="max-w-md px-4 py-2 align-top">
                  {r.responseStatus !== null && (
                    <span className="font-medium" data-testid="response-status">
                      {r.responseStatus}
                    </span>
                  )}
                  {r.error && <div className="text-xs text-red-700 dark:text-red-400">{r.error}</div>}
                  {r.responseBody && <div className="muted font-mono text-xs break-all">{r.responseBody}</div>}
                </td>
                <td className="px-4 py-2 align-top tabular-nums whitespace-nowrap">
                  {r.latencyMs === null ? "—" : `${r.latencyMs} ms`}
                </td>
                <td className="px-4 py-2 align-top">
                  {r.status !== "pending" && <RedeliverButton slug={t.slug} deliveryId={r.id} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </div>
  );
}

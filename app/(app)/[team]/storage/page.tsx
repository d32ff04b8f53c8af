import type { Metadata } from "next";
import { PageHeader } from "@/app/_components/page-header";
import { listDestinations } from "@/lib/destinations/queries";
import { formatBytes } from "@/lib/format";
import { formatPrices } from "@/lib/retention/prices";
import { storageUsage, storedBytesHistory } from "@/lib/retention/usage";
import { pageTeam } from "@/lib/web/page";
import { listServers } from "@/lib/servers/queries";
import { roleAtLeast } from "@/lib/teams/roles";
import { DestinationCard, DestinationForm } from "./destination-parts";
import { PricesForm } from "./usage";
import { StoredChart } from "../stored-chart";
import { TableScroll } from "@/app/_components/table-scroll";

export const metadata: Metadata = { title: "Storage" };

export default async function StoragePage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const [destinations, servers, usage, history] = await Promise.all([
    listDestinations(t),
    listServers(t),
    storageUsage(t),
    storedBytesHistory(t),
  ]);
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const serverOptions = servers.map((s) => ({ id: s.id, name: s.name }));
  const cloud = destinations.filter((d) => d.kind === "s3" || d.kind === "gcs" || d.kind === "azure");
  return (
    <div className="space-y-6">
      <PageHeader
        title="Storage"
        description="Where backups go: this host's disk, a server's backup directory, Amazon S3 and S3-compatible services, Google Cloud Storage, Azure Blob. Credentials are stored encrypted and never shown again."
      />
      {destinations.length === 0 && (
        <div className="card text-center">
          <p className="font-medium">No storage destinations yet</p>
          <p className="muted mt-1">
            {admin
              ? "Add one below: saving it tests it (Coffer writes, reads back and deletes a small probe object)."
              : "An admin of the team can add storage destinations."}
          </p>
        </div>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        {destinations.map((d) => (
          <DestinationCard
            key={d.id}
            slug={t.slug}
            destination={d}
            canTest={member}
            canEdit={admin}
            servers={serverOptions}
          />
        ))}
      </div>
      {history.some((p) => p.bytes > 0) && (
        <StoredChart points={history} destinations={destinations.map((d) => ({ id: d.id, name: d.name }))} />
      )}
      {usage.lines.length > 0 && (
        <section className="card space-y-3" data-testid="storage-usage">
          <h2 className="font-semibold">Usage and cost</h2>
          <TableScroll label="Usage and cost">
            <table className="w-full text-sm">
              <thead className="text-left text-xs uppercase text-zinc-500 dark:text-zinc-400">
                <tr>
                  <th className="py-1">Destination</th>
                  <th className="py-1">Storage class</th>
                  <th className="py-1 text-right">Objects</th>
                  <th className="py-1 text-right">Stored</th>
                  <th className="py-1 text-right">USD / GB-month</th>
                  <th className="py-1 text-right">Per month</th>
                </tr>
              </thead>
              <tbody>
                {usage.lines.map((l) => (
                  <tr
                    key={`${l.destinationId}-${l.storageClass}`}
                    className="border-t border-zinc-200 dark:border-zinc-800"
                  >
                    <td className="py-1">{l.name}</td>
                    <td className="py-1">{l.storageClass ?? "—"}</td>
                    <td className="py-1 text-right tabular-nums">{l.objects}</td>
                    <td className="py-1 text-right tabular-nums">{formatBytes(l.bytes)}</td>
                    <td className="py-1 text-right tabular-nums">
                      {l.pricePerGbMonth ? l.pricePerGbMonth.toFixed(4) : "—"}
                    </td>
                    <td className="py-1 text-right tabular-nums">${l.monthlyCost.toFixed(2)}</td>
                  </tr>
                ))}
                <tr className="border-t border-zinc-300 font-medium dark:border-zinc-700">
                  <td className="py-1" colSpan={3}>
                    Total
                  </td>
                  <td className="py-1 text-right tabular-nums">{formatBytes(usage.bytes)}</td>
                  <td />
                  <td className="py-1 text-right tabular-nums" data-testid="monthly-cost">
                    ${usage.monthlyCost.toFixed(2)}
                  </td>
                </tr>
              </tbody>
            </table>
          </TableScroll>
          <p className="muted text-xs">
            An estimate from list prices per storage class (S3 as in the runbook; GCS and Azure us-east), excluding
            requests, retrieval and transfer; this host&apos;s disk and server directories count as free.
            {admin && cloud.length > 0 && " Override the prices below where yours differ."}
          </p>
          {admin &&
            cloud.map((d) => (
              <PricesForm key={d.id} slug={t.slug} destinationId={d.id} name={d.name} prices={formatPrices(d.prices)} />
            ))}
        </section>
      )}
      {admin && (
        <details className="card" open={destinations.length === 0}>
          <summary className="cursor-pointer font-medium">Add a destination</summary>
          <div className="mt-4 max-w-2xl">
            <DestinationForm slug={t.slug} servers={serverOptions} />
          </div>
        </details>
      )}
    </div>
  );
}

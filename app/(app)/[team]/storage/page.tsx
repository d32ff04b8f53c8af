import type { Metadata } from "next";
import { PageHeader } from "@/app/_components/page-header";
import { listDestinations } from "@/lib/destinations/queries";
import { pageTeam } from "@/lib/server/page";
import { listServers } from "@/lib/servers/queries";
import { roleAtLeast } from "@/lib/teams/roles";
import { DestinationCard, DestinationForm } from "./destination-parts";

export const metadata: Metadata = { title: "Storage" };

export default async function StoragePage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const [destinations, servers] = await Promise.all([listDestinations(t), listServers(t)]);
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const serverOptions = servers.map((s) => ({ id: s.id, name: s.name }));
  return (
    <div className="space-y-6">
      <PageHeader title="Storage" description="Where backups go: this host's disk, a server's backup directory, Amazon S3 and S3-compatible services, Google Cloud Storage, Azure Blob. Credentials are stored encrypted and never shown again." />
      {destinations.length === 0 && (
        <div className="card text-center">
          <p className="font-medium">No storage destinations yet</p>
          <p className="muted mt-1">{admin ? "Add one below, then test it: Coffer writes, reads back and deletes a small probe object." : "An admin of the team can add storage destinations."}</p>
        </div>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        {destinations.map((d) => (
          <DestinationCard key={d.id} slug={t.slug} destination={d} canTest={member} canEdit={admin} servers={serverOptions} />
        ))}
      </div>
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

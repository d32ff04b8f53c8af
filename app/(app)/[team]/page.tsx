import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/app/_components/page-header";
import { listDestinations } from "@/lib/destinations/queries";
import { listSchedules } from "@/lib/schedules/queries";
import { pageTeam } from "@/lib/server/page";
import { listServers } from "@/lib/servers/queries";
import { listMembers } from "@/lib/teams/queries";
import { roleAtLeast } from "@/lib/teams/roles";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const [members, servers, destinations, schedules] = await Promise.all([listMembers(t), listServers(t), listDestinations(t), listSchedules(t)]);
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  return (
    <>
      <PageHeader title="Overview" description={`Backups, schedules and storage of ${t.name}.`} />
      <div className="grid gap-4 md:grid-cols-3">
        <div className="card">
          <p className="muted">Members</p>
          <p className="mt-1 text-3xl font-semibold" data-testid="member-count">
            {members.length}
          </p>
          <Link href={`/${t.slug}/settings/members`} className="mt-2 inline-block text-sm text-indigo-600 hover:underline dark:text-indigo-400">
            {admin ? "Invite people" : "See members"}
          </Link>
        </div>
        <div className="card md:col-span-2">
          <p className="font-medium">Getting ready for backups</p>
          <ol className="mt-2 space-y-1 text-sm">
            <li>
              {servers.length > 0 ? "✓" : "1."} <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/servers`}>Servers</Link>: {servers.length} registered
              {servers.length > 0 && `, ${servers.reduce((n, s) => n + s.sourceCount, 0)} source(s)`}
            </li>
            <li>
              {destinations.length > 0 ? "✓" : "2."} <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/storage`}>Storage</Link>: {destinations.length} destination(s)
            </li>
            <li>
              {schedules.length > 0 ? "✓" : "3."} <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/schedules`}>Schedules</Link>: {schedules.length}
            </li>
            <li className="muted">4. Backup runs: not built yet; this page will show them here.</li>
          </ol>
        </div>
      </div>
    </>
  );
}

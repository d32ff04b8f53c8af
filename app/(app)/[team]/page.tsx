import type { Metadata } from "next";
import Link from "next/link";
import { LocalTime } from "@/app/_components/local-time";
import { PageHeader } from "@/app/_components/page-header";
import { formatCount } from "@/lib/format";
import { listBackups } from "@/lib/backups/queries";
import { listDestinations } from "@/lib/destinations/queries";
import { storedBytesHistory } from "@/lib/retention/usage";
import { env } from "@/lib/env";
import { teamHealth } from "@/lib/health/overview";
import { listSchedules } from "@/lib/schedules/queries";
import { pageTeam } from "@/lib/web/page";
import { listServers } from "@/lib/servers/queries";
import { listMembers } from "@/lib/teams/queries";
import { HealthPanel } from "./health-panel";
import { StoredChart } from "./stored-chart";
import { roleAtLeast } from "@/lib/teams/roles";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const [members, servers, destinations, schedules, recent, health] = await Promise.all([
    listMembers(t),
    listServers(t),
    listDestinations(t),
    listSchedules(t),
    listBackups(t, { limit: 20 }),
    teamHealth(t),
  ]);
  const history = await storedBytesHistory(t);
  const lastGood = recent.rows.find((b) => b.status === "succeeded");
  const failed = recent.rows.filter((b) => b.status === "failed").length;
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
          <Link
            href={`/${t.slug}/settings/members`}
            className="mt-2 inline-block text-sm text-indigo-600 hover:underline dark:text-indigo-400"
          >
            {admin ? "Invite people" : "See members"}
          </Link>
        </div>
        <div className="card md:col-span-2">
          <p className="font-medium">Getting ready for backups</p>
          <ol className="mt-2 space-y-1 text-sm">
            <li>
              {servers.length > 0 ? "✓" : "1."}{" "}
              <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/servers`}>
                Servers
              </Link>
              : {servers.length} registered
              {servers.length > 0 &&
                `, ${formatCount(
                  servers.reduce((n, s) => n + s.sourceCount, 0),
                  "source",
                )}`}
            </li>
            <li>
              {destinations.length > 0 ? "✓" : "2."}{" "}
              <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/storage`}>
                Storage
              </Link>
              : {formatCount(destinations.length, "destination")}
            </li>
            <li>
              {schedules.length > 0 ? "✓" : "3."}{" "}
              <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/schedules`}>
                Schedules
              </Link>
              : {schedules.length}
            </li>
            <li>
              {lastGood ? "✓" : "4."}{" "}
              <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href={`/${t.slug}/backups`}>
                Backups
              </Link>
              :{" "}
              {lastGood ? (
                <>
                  last success <LocalTime at={lastGood.finishedAt} />
                </>
              ) : (
                "none yet"
              )}
              {failed > 0 && `, ${failed} failed among the last ${recent.rows.length}`}
            </li>
          </ol>
        </div>
      </div>
      <HealthPanel slug={t.slug} health={health} now={new Date()} />
      {history.some((p) => p.bytes > 0) && (
        <div className="mt-6">
          <StoredChart points={history} destinations={destinations.map((d) => ({ id: d.id, name: d.name }))} />
        </div>
      )}
      <p className="muted mt-6 text-sm" data-testid="workflow-mode">
        {env().workflows === "inngest"
          ? "Backups, restores and schedules run on a separate workflow server."
          : "Backups, restores and schedules run inside this Coffer process: fine for one instance. To run several, the operator configures a separate workflow server."}
      </p>
    </>
  );
}

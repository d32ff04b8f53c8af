import type { Metadata } from "next";
import { PageHeader } from "@/app/_components/page-header";
import { listDestinations } from "@/lib/destinations/queries";
import { timeZones } from "@/lib/schedules/cron";
import { listSchedules } from "@/lib/schedules/queries";
import { pageTeam } from "@/lib/web/page";
import { listServers, listSources } from "@/lib/servers/queries";
import { roleAtLeast } from "@/lib/teams/roles";
import { ScheduleCard, ScheduleForm, type FormOptions } from "./schedule-parts";

export const metadata: Metadata = { title: "Schedules" };

export default async function SchedulesPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const [schedules, servers, destinations] = await Promise.all([listSchedules(t), listServers(t), listDestinations(t)]);
  const sources = (await Promise.all(servers.map((s) => listSources(t, s.id)))).flat();
  const member = t.role === "system" || roleAtLeast(t.role, "member");
  const options: FormOptions = {
    servers: servers.map((s) => ({ id: s.id, name: s.name })),
    sources: sources.map((s) => ({
      id: s.id,
      name: s.name,
      serverId: s.serverId,
      kind: s.kind,
      serverName: servers.find((x) => x.id === s.serverId)?.name ?? "",
    })),
    destinations: destinations.map((d) => ({ id: d.id, name: d.name })),
    timeZones,
  };
  return (
    <div className="space-y-6">
      <PageHeader
        title="Schedules"
        description="When to back up which sources, in which time zone, where the backups go, and whether they are encrypted."
        help={{ article: "schedules", label: "How schedules and retention work" }}
      />
      {schedules.length === 0 && (
        <div className="card text-center">
          <p className="font-medium">No schedules yet</p>
          <p className="muted mt-1">
            {servers.length === 0 || destinations.length === 0
              ? "Add a server with a source, and a storage destination, first."
              : "Create one below: for example daily at 02:00, kept encrypted."}
          </p>
        </div>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        {schedules.map((s) => (
          <ScheduleCard key={s.id} slug={t.slug} schedule={s} canEdit={member} options={options} />
        ))}
      </div>
      {member && servers.length > 0 && destinations.length > 0 && (
        <details className="card" open={schedules.length === 0}>
          <summary className="cursor-pointer font-medium">New schedule</summary>
          <div className="mt-4 max-w-2xl">
            <ScheduleForm slug={t.slug} options={options} />
          </div>
        </details>
      )}
    </div>
  );
}

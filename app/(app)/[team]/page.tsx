import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/app/_components/page-header";
import { pageTeam } from "@/lib/server/page";
import { listMembers } from "@/lib/teams/queries";
import { roleAtLeast } from "@/lib/teams/roles";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const members = await listMembers(t);
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
          <p className="font-medium">No backups yet</p>
          <p className="muted mt-1">
            Backups start once servers, storage and schedules are set up. Those parts of Coffer are not built yet: the Servers, Storage and Schedules pages say so
            until they are. Meanwhile, {admin ? "invite your team and choose their roles" : "ask an admin to invite the rest of your team"}.
          </p>
        </div>
      </div>
    </>
  );
}

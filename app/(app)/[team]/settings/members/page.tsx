import type { Metadata } from "next";
import { pageTeam } from "@/lib/web/page";
import { listOpenInvitations } from "@/lib/teams/invitations";
import { listMembers } from "@/lib/teams/queries";
import { roleAtLeast, roleLabels } from "@/lib/teams/roles";
import { InvitationRow, InviteForm, MemberControls } from "./member-forms";
import { TableScroll } from "@/app/_components/table-scroll";
import { LocalTime } from "@/app/_components/local-time";

export const metadata: Metadata = { title: "Members" };

export default async function MembersPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const isAdmin = t.role === "system" || roleAtLeast(t.role, "admin");
  const isOwner = t.role === "system" || t.role === "owner";
  const [members, invitations] = await Promise.all([
    listMembers(t),
    isAdmin ? listOpenInvitations(t) : Promise.resolve([]),
  ]);
  return (
    <div className="space-y-6">
      {isAdmin && (
        <section className="card">
          <h2 className="mb-3 font-semibold">Invite someone</h2>
          <InviteForm slug={t.slug} />
        </section>
      )}
      <TableScroll label="Members" className="card p-0">
        <table className="w-full text-left text-sm" data-testid="members">
          <thead className="border-b border-zinc-200 text-xs text-zinc-500 dark:text-zinc-400 uppercase dark:border-zinc-800">
            <tr>
              <th className="px-5 py-3 font-medium">Member</th>
              <th className="px-5 py-3 font-medium">Role</th>
              <th className="px-5 py-3 font-medium">Joined</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
            {members.map((m) => {
              const self = m.userId === t.actor.userId;
              const manageable = !self && isAdmin && (isOwner || m.role !== "owner");
              return (
                <tr key={m.id} data-testid={`member-${m.email}`}>
                  <td className="px-5 py-3">
                    <div className="font-medium">
                      {m.name} {self && <span className="badge">you</span>}
                    </div>
                    <div className="muted">{m.email}</div>
                  </td>
                  <td className="px-5 py-3">
                    {manageable ? (
                      <MemberControls slug={t.slug} memberId={m.id} email={m.email} role={m.role} isOwner={isOwner} />
                    ) : (
                      <span className="badge">{roleLabels[m.role]}</span>
                    )}
                  </td>
                  <td className="muted px-5 py-3 whitespace-nowrap">
                    <LocalTime at={m.joinedAt} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableScroll>
      {isAdmin && (
        <section className="card">
          <h2 className="mb-3 font-semibold">Open invitations</h2>
          {invitations.length === 0 ? (
            <p className="muted">No open invitations. Invite someone above; they get a link valid for 7 days.</p>
          ) : (
            <ul className="divide-y divide-zinc-200 dark:divide-zinc-800">
              {invitations.map((i) => (
                <InvitationRow
                  key={i.id}
                  slug={t.slug}
                  id={i.id}
                  email={i.email}
                  role={i.role}
                  expiresAt={i.expiresAt.toISOString()}
                />
              ))}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}

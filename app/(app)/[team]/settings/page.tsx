import type { Metadata } from "next";
import { getTeamRetention } from "@/lib/retention/policies";
import { getTrashDays } from "@/lib/trash/queries";
import { describePolicy } from "@/lib/retention/select";
import { pageTeam } from "@/lib/web/page";
import { roleAtLeast } from "@/lib/teams/roles";
import { listTeamKeys } from "@/lib/openpgp/team-keys";
import { LeaveTeam, TeamForm, TeamRetentionForm, TrashDaysForm } from "./general-forms";
import { AddTeamKeyForm, RemoveTeamKey } from "./openpgp-keys";
import { LocalTime } from "@/app/_components/local-time";

export const metadata: Metadata = { title: "Settings" };

export default async function GeneralSettingsPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team);
  const admin = t.role === "system" || roleAtLeast(t.role, "admin");
  const [retention, trashDays, keys] = await Promise.all([getTeamRetention(t), getTrashDays(t), listTeamKeys(t)]);
  return (
    <div className="max-w-xl space-y-6">
      <section className="card space-y-4">
        <h2 className="font-semibold">Team</h2>
        <TeamForm slug={t.slug} name={t.name} editable={admin} />
        <p className="muted text-xs" data-testid="team-id">
          Team id <code className="select-all">{t.id}</code>: every backup object&apos;s header names it. Keep it with
          the master keys: after a loss of Coffer&apos;s database, Storage → Scan for backups asks for it.
        </p>
      </section>
      <section className="card space-y-3">
        <h2 className="font-semibold">Retention of unscheduled backups</h2>
        <p className="muted text-sm">
          Backups made with Back up now, the API or an upload, per server. Schedules have their own policy.
        </p>
        {admin ? (
          <TeamRetentionForm slug={t.slug} policy={retention} keeps={describePolicy(retention)} />
        ) : (
          <p className="text-sm">{describePolicy(retention)}.</p>
        )}
      </section>
      <section className="card space-y-3">
        <h2 className="font-semibold">Trash</h2>
        <p className="muted text-sm">
          Deleted backups, and those retention removes, keep their stored copies this long; admins can restore them from
          the trash until then.
        </p>
        {admin ? (
          <TrashDaysForm slug={t.slug} days={trashDays} />
        ) : (
          <p className="text-sm">
            {trashDays} day{trashDays === 1 ? "" : "s"}.
          </p>
        )}
      </section>
      <section className="card space-y-3" aria-label="OpenPGP keys">
        <h2 className="font-semibold">OpenPGP keys</h2>
        <p className="muted text-sm">
          Backups with OpenPGP encryption are encrypted to every key here (and to Coffer), so whoever holds one of the
          private keys restores them with <code>gpg --decrypt</code> alone. Removing a key affects only later backups.
        </p>
        {keys.length ? (
          <ul className="space-y-2">
            {keys.map((k) => (
              <li key={k.id} className="flex items-start justify-between gap-3 text-sm" data-testid="openpgp-key">
                <div>
                  <p className="font-mono text-xs">{k.fingerprint}</p>
                  <p>{k.userIds.join(", ")}</p>
                  <p className="muted text-xs">
                    {k.algorithm} ·{" "}
                    {k.expiresAt ? (
                      <>
                        expires <LocalTime at={k.expiresAt} />
                      </>
                    ) : (
                      "does not expire"
                    )}
                  </p>
                </div>
                {admin && <RemoveTeamKey slug={t.slug} keyId={k.id} fingerprint={k.fingerprint} />}
              </li>
            ))}
          </ul>
        ) : (
          <p className="text-sm">No keys yet.</p>
        )}
        {admin ? <AddTeamKeyForm slug={t.slug} /> : <p className="muted text-sm">Only admins and owners add keys.</p>}
      </section>
      <section className="card space-y-3">
        <h2 className="font-semibold">Leave team</h2>
        <p className="muted">
          You lose access to this team&apos;s servers and backups. The last owner cannot leave: transfer ownership
          first.
        </p>
        <LeaveTeam slug={t.slug} />
      </section>
    </div>
  );
}

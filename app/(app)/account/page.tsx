import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/app/_components/page-header";
import { isEmailVerified } from "@/lib/auth/email-verification";
import { describeUserAgent } from "@/lib/auth/user-agent";
import { listSessions, listSignInEvents } from "@/lib/auth/users";
import { mailKindLabels, mailKinds, mutedMail } from "@/lib/notifications/preferences";
import { pageUser } from "@/lib/web/page";
import { signOutAction } from "@/app/(auth)/actions";
import { ChangePassword } from "./change-password";
import { MailPreferences } from "./mail-preferences";
import { SignOutEverywhere } from "./sign-out-everywhere";
import { VerifyEmailBanner } from "./verify-email-banner";
import { LocalTime } from "@/app/_components/local-time";

export const metadata: Metadata = { title: "Account" };

export default async function AccountPage() {
  const u = await pageUser();
  const [sessions, failures, muted, verified] = await Promise.all([
    listSessions(u),
    listSignInEvents(u),
    mutedMail(u),
    isEmailVerified(u.userId),
  ]);
  const utc = (d: Date) => <LocalTime at={d} />;
  return (
    <main className="mx-auto max-w-2xl px-4 py-10">
      <div className="flex items-center justify-between">
        <Link href="/" className="muted hover:underline">
          ← Back to your team
        </Link>
        <form action={signOutAction}>
          <button className="btn-secondary">Sign out</button>
        </form>
      </div>
      <div className="mt-4">
        <PageHeader title="Account" description={`${u.name} · ${u.email}`} />
      </div>
      {!verified && (
        <div className="mb-6">
          <VerifyEmailBanner email={u.email} />
        </div>
      )}
      <section className="card space-y-4">
        <h2 className="font-semibold">Signed-in devices</h2>
        <ul className="divide-y divide-zinc-200 dark:divide-zinc-800" data-testid="sessions">
          {sessions.map((s) => (
            <li key={s.id} className="py-2 text-sm">
              <div className="font-medium">
                <span title={s.userAgent ?? undefined}>{describeUserAgent(s.userAgent)}</span>{" "}
                {s.current && <span className="badge">this device</span>}
              </div>
              <div className="muted text-xs">
                {s.ip ?? "unknown address"} · signed in {utc(s.createdAt)} · last seen {utc(s.lastSeenAt)}
              </div>
            </li>
          ))}
        </ul>
        <SignOutEverywhere />
      </section>
      <section className="card mt-6 space-y-3" data-testid="change-password">
        <h2 className="font-semibold">Password</h2>
        <ChangePassword />
      </section>
      {failures.length > 0 && (
        <section className="card mt-6 space-y-2">
          <h2 className="font-semibold">Failed sign-ins</h2>
          <p className="muted text-sm">
            Recent attempts with a wrong password, and attempts refused while the account or address had to wait. If
            these were not you, use a long, unique password.
          </p>
          <ul className="divide-y divide-zinc-200 text-sm dark:divide-zinc-800" data-testid="failed-sign-ins">
            {failures.map((f, i) => (
              <li key={i} className="py-1">
                {f.outcome === "failed" ? "Wrong password" : "Refused: waiting after failures"} ·{" "}
                {f.ip ?? "unknown address"} · {utc(f.createdAt)}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section className="card mt-6 space-y-3" data-testid="mail-preferences">
        <h2 className="font-semibold">Notification e-mails</h2>
        <p className="muted">
          Teams can send notifications by e-mail to their members. Turn off the kinds you do not want, in every team.
        </p>
        <MailPreferences kinds={mailKinds.map((k) => ({ id: k, name: mailKindLabels[k] }))} muted={muted} />
      </section>
    </main>
  );
}

import type { Metadata } from "next";
import Link from "next/link";
import { VerifyEmailBanner } from "@/app/(app)/account/verify-email-banner";
import { isEmailVerified } from "@/lib/auth/email-verification";
import { currentUser } from "@/lib/auth/session";
import { invitationByToken } from "@/lib/teams/invitations";
import { roleLabels } from "@/lib/teams/roles";
import { signOutAction } from "../../actions";
import { AcceptInvitation } from "./accept-invitation";
import { LocalTime } from "@/app/_components/local-time";

export const metadata: Metadata = { title: "Invitation" };

export default async function InvitationPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const [invitation, user] = await Promise.all([invitationByToken(token), currentUser()]);
  if (!invitation || invitation.status !== "open") {
    const why = !invitation
      ? "is not valid"
      : invitation.status === "expired"
        ? "has expired"
        : invitation.status === "revoked"
          ? "was revoked"
          : "was already used";
    return (
      <div className="space-y-3">
        <h1 className="text-xl font-semibold">Invitation unavailable</h1>
        <p className="muted">This invitation link {why}. Ask the team&apos;s admin to send you a new one.</p>
      </div>
    );
  }
  const here = `/invite/${token}`;
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Join {invitation.teamName}</h1>
      <p className="muted">
        {invitation.invitedBy ?? "A team admin"} invited{" "}
        <strong className="text-zinc-800 dark:text-zinc-200">{invitation.email}</strong> to join as{" "}
        {roleLabels[invitation.role]}. The invitation expires on <LocalTime at={invitation.expiresAt} />.
      </p>
      {!user ? (
        <div className="flex flex-col gap-2">
          <Link
            className="btn-primary"
            href={`/sign-up?next=${encodeURIComponent(here)}&email=${encodeURIComponent(invitation.email)}`}
          >
            Create an account
          </Link>
          <Link className="btn-secondary" href={`/sign-in?next=${encodeURIComponent(here)}`}>
            I already have an account
          </Link>
        </div>
      ) : user.email !== invitation.email ? (
        <div className="space-y-3">
          <p className="text-sm">
            You are signed in as {user.email}. Sign in as {invitation.email} to accept.
          </p>
          <form action={signOutAction}>
            <button className="btn-secondary w-full">Sign out</button>
          </form>
        </div>
      ) : !(await isEmailVerified(user.userId)) ? (
        <VerifyEmailBanner email={user.email} />
      ) : (
        <AcceptInvitation token={token} />
      )}
    </div>
  );
}

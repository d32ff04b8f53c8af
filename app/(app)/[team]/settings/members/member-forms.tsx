"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { CopyButton } from "@/app/_components/copy-button";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import type { MailOutcome } from "@/lib/mail";
import { roleLabels, roles, type Role } from "@/lib/teams/roles";
import {
  changeRoleAction,
  inviteAction,
  removeMemberAction,
  resendInvitationAction,
  revokeInvitationAction,
  transferOwnershipAction,
} from "../../actions";
import { LocalTime } from "@/app/_components/local-time";

type Issued = { link: string; mail: MailOutcome };

function IssuedLink({ link, mail }: Issued) {
  return (
    <div className="rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950">
      <p data-testid="invite-mail">
        {mail.sent
          ? "Invitation e-mailed. You can also share this link:"
          : `Not e-mailed: ${mail.why}. Share this link with them yourself (it is shown only once):`}
      </p>
      <div className="mt-2 flex gap-2">
        <input
          readOnly
          value={link}
          aria-label="Invitation link"
          className="input font-mono text-xs"
          data-testid="invite-link"
          onFocus={(e) => e.currentTarget.select()}
        />
        <CopyButton text={link} label="Copy link" />
      </div>
    </div>
  );
}

export function InviteForm({ slug }: { slug: string }) {
  const router = useRouter();
  const [issued, setIssued] = useState<Issued | null>(null);
  const [form, setForm] = useState<HTMLFormElement | null>(null);
  const { run, pending, error } = useAction(inviteAction.bind(null, slug), (inv) => {
    setIssued(inv);
    form?.reset(); // only once it worked: a refused invitation keeps what was typed
    router.refresh();
  });
  return (
    <form
      ref={setForm}
      className="space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        const f = formFields(e.currentTarget);
        run({ email: f.email ?? "", role: (f.role ?? "member") as Role });
      }}
    >
      <FormError error={error} />
      <div className="grid gap-3 sm:grid-cols-[1fr_10rem_auto] sm:items-end">
        <Field label="E-mail" name="email" type="email" required error={error} />
        <div>
          <label htmlFor="invite-role" className="label">
            Role
          </label>
          <select id="invite-role" name="role" className="input" defaultValue="member">
            {roles
              .filter((r) => r !== "owner")
              .map((r) => (
                <option key={r} value={r}>
                  {roleLabels[r]}
                </option>
              ))}
          </select>
        </div>
        <button className="btn-primary" disabled={pending}>
          {pending ? "Inviting…" : "Invite"}
        </button>
      </div>
      {issued && <IssuedLink {...issued} />}
    </form>
  );
}

export function MemberControls({
  slug,
  memberId,
  email,
  role,
  isOwner,
}: {
  slug: string;
  memberId: string;
  email: string;
  role: Role;
  isOwner: boolean;
}) {
  const router = useRouter();
  const refresh = () => router.refresh();
  const change = useAction(changeRoleAction.bind(null, slug), refresh);
  const remove = useAction(removeMemberAction.bind(null, slug), refresh);
  const transfer = useAction(transferOwnershipAction.bind(null, slug), refresh);
  const error = change.error ?? remove.error ?? transfer.error;
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2">
        <select
          aria-label={`Role of ${email}`}
          className="input w-32 py-1"
          value={role}
          disabled={change.pending}
          onChange={(e) => change.run({ memberId, role: e.target.value as Role })}
        >
          {roles
            .filter((r) => isOwner || r !== "owner")
            .map((r) => (
              <option key={r} value={r}>
                {roleLabels[r]}
              </option>
            ))}
        </select>
        {isOwner && role !== "owner" && (
          <button
            className="btn-secondary px-2.5 py-1 text-xs"
            disabled={transfer.pending}
            onClick={() => confirm(`Make ${email} the owner? You will become an admin.`) && transfer.run({ memberId })}
          >
            Transfer ownership
          </button>
        )}
        <button
          className="btn-danger px-2.5 py-1 text-xs"
          disabled={remove.pending}
          onClick={() => confirm(`Remove ${email} from the team?`) && remove.run({ memberId })}
        >
          Remove
        </button>
      </div>
      <FormError error={error} />
    </div>
  );
}

export function InvitationRow({
  slug,
  id,
  email,
  role,
  expiresAt,
}: {
  slug: string;
  id: string;
  email: string;
  role: Role;
  expiresAt: string;
}) {
  const router = useRouter();
  const [issued, setIssued] = useState<Issued | null>(null);
  const resend = useAction(resendInvitationAction.bind(null, slug), (inv) => {
    setIssued(inv);
    router.refresh();
  });
  const revoke = useAction(revokeInvitationAction.bind(null, slug), () => router.refresh());
  return (
    <li className="space-y-2 py-3" data-testid={`invitation-${email}`}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <span className="font-medium">{email}</span> <span className="badge">{roleLabels[role]}</span>
          <div className="muted text-xs">
            Expires <LocalTime at={expiresAt} />
          </div>
        </div>
        <div className="flex gap-2">
          <button
            className="btn-secondary px-2.5 py-1 text-xs"
            disabled={resend.pending}
            onClick={() => resend.run({ invitationId: id })}
          >
            Resend
          </button>
          <button
            className="btn-danger px-2.5 py-1 text-xs"
            disabled={revoke.pending}
            onClick={() => revoke.run({ invitationId: id })}
          >
            Revoke
          </button>
        </div>
      </div>
      <FormError error={resend.error ?? revoke.error} />
      {issued && <IssuedLink {...issued} />}
    </li>
  );
}

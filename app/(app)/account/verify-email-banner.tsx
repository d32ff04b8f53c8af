"use client";
import { useState } from "react";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { resendVerificationAction } from "@/app/(auth)/actions";

/** Shown while the account's address is not confirmed: what that blocks, and "send it again". */
export function VerifyEmailBanner({ email }: { email: string }) {
  const [sent, setSent] = useState(false);
  const { run, pending, error } = useAction(resendVerificationAction, () => setSent(true));
  return (
    <section
      role="status"
      data-testid="verify-email-banner"
      className="space-y-2 rounded-lg border border-amber-200 bg-amber-50 p-4 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200"
    >
      <p>
        Confirm that <strong>{email}</strong> is your address: open the link Coffer sent to it. Until then you cannot
        join teams you are invited to or receive notifications.
      </p>
      <FormError error={error} />
      {sent ? (
        <p>A new link is on its way to {email}.</p>
      ) : (
        <button className="btn-secondary" disabled={pending} onClick={() => run({})}>
          {pending ? "Sending…" : "Send the link again"}
        </button>
      )}
    </section>
  );
}

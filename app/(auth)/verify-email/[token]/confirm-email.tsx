"use client";
import Link from "next/link";
import { useState } from "react";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { confirmEmailAction } from "../../actions";

export function ConfirmEmail({ token }: { token: string }) {
  const [confirmed, setConfirmed] = useState<string | null>(null);
  const { run, pending, error } = useAction(confirmEmailAction, ({ email }) => setConfirmed(email));
  if (confirmed)
    return (
      <div className="space-y-3" data-testid="email-confirmed">
        <p>{confirmed} is confirmed.</p>
        <Link className="btn-primary w-full" href="/">
          Continue to Coffer
        </Link>
      </div>
    );
  return (
    <div className="space-y-3">
      <FormError error={error} />
      <button className="btn-primary w-full" disabled={pending} onClick={() => run({ token })}>
        {pending ? "Confirming…" : "Confirm e-mail address"}
      </button>
    </div>
  );
}

"use client";
import Link from "next/link";
import { useState } from "react";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import { requestPasswordResetAction } from "../actions";

export function ForgotPasswordForm() {
  const [sentTo, setSentTo] = useState<string | null>(null);
  const { run, pending, error } = useAction(requestPasswordResetAction, ({ email }) => setSentTo(email));
  if (sentTo)
    return (
      <div className="space-y-3" data-testid="reset-requested">
        <p>
          If an account has the address {sentTo}, a link to reset its password is on its way. It can take a minute; look
          in the spam folder too.
        </p>
        <Link className="btn-secondary w-full" href="/sign-in">
          Back to sign in
        </Link>
      </div>
    );
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        run({ email: formFields(e.currentTarget).email ?? "" });
      }}
    >
      <FormError error={error} />
      <Field label="E-mail" name="email" type="email" autoComplete="email" required error={error} />
      <button className="btn-primary w-full" disabled={pending}>
        {pending ? "Sending…" : "Send the link"}
      </button>
    </form>
  );
}

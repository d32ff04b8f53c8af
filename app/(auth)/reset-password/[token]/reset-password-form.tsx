"use client";
import Link from "next/link";
import { useState } from "react";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import { resetPasswordAction } from "../../actions";

export function ResetPasswordForm({ token }: { token: string }) {
  const [done, setDone] = useState<string | null>(null);
  const { run, pending, error } = useAction(resetPasswordAction, ({ email }) => setDone(email));
  if (done)
    return (
      <div className="space-y-3" data-testid="password-reset">
        <p>The password of {done} is changed.</p>
        <Link className="btn-primary w-full" href="/sign-in">
          Sign in
        </Link>
      </div>
    );
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        run({ token, newPassword: formFields(e.currentTarget).newPassword ?? "" });
      }}
    >
      <FormError error={error} />
      <Field
        label="New password"
        name="newPassword"
        type="password"
        autoComplete="new-password"
        required
        error={error}
      />
      <button className="btn-primary w-full" disabled={pending}>
        {pending ? "Saving…" : "Set the new password"}
      </button>
    </form>
  );
}

"use client";
import { useState } from "react";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import { changePasswordAction } from "./actions";

export function ChangePassword() {
  const [done, setDone] = useState<string | null>(null);
  const [form, setForm] = useState<HTMLFormElement | null>(null);
  const { run, pending, error } = useAction(changePasswordAction, ({ signedOut }) => {
    form?.reset();
    setDone(
      signedOut === 0
        ? "Password changed. No other device was signed in."
        : `Password changed. Signed out ${signedOut === 1 ? "1 other device" : `${signedOut} other devices`}.`,
    );
  });
  return (
    <form
      ref={setForm}
      className="space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        setDone(null);
        const f = formFields(e.currentTarget);
        run({ currentPassword: f.currentPassword ?? "", newPassword: f.newPassword ?? "" });
      }}
    >
      <FormError error={error} />
      {done && (
        <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
          {done}
        </p>
      )}
      <Field
        label="Current password"
        name="currentPassword"
        type="password"
        autoComplete="current-password"
        required
        error={error}
      />
      <Field
        label="New password"
        name="newPassword"
        type="password"
        autoComplete="new-password"
        minLength={10}
        maxLength={200}
        required
        error={error}
        hint="At least 10 characters. Every other device is signed out."
      />
      <button className="btn-primary" disabled={pending}>
        {pending ? "Changing…" : "Change password"}
      </button>
    </form>
  );
}

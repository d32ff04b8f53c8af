"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { CheckboxGroup, Field, FormError, Select } from "@/app/_components/form";
import { checkedValues, formFields, useAction } from "@/app/_components/use-action";
import { createApiTokenAction, revokeApiTokenAction } from "./actions";

const expiries = [
  { value: "30", label: "In 30 days" },
  { value: "90", label: "In 90 days" },
  { value: "365", label: "In a year" },
  { value: "never", label: "Never (until revoked)" },
];

export function CreateTokenForm({ slug, scopes }: { slug: string; scopes: { id: string; name: string }[] }) {
  const router = useRouter();
  const [issued, setIssued] = useState<string | null>(null);
  const [form, setForm] = useState<HTMLFormElement | null>(null);
  const { run, pending, error } = useAction(createApiTokenAction.bind(null, slug), (r) => {
    setIssued(r.token);
    form?.reset();
    router.refresh();
  });
  return (
    <form
      ref={setForm}
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const f = formFields(e.currentTarget);
        run({
          name: f.name ?? "",
          scopes: checkedValues(e.currentTarget, "scopes") as Parameters<typeof run>[0]["scopes"],
          expiresInDays: f.expiresInDays,
        });
      }}
    >
      <FormError error={error} />
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="Name" name="name" required error={error} hint="Where it is used, e.g. prometheus or ci." />
        <Select label="Expires" name="expiresInDays" options={expiries} defaultValue="90" />
      </div>
      <CheckboxGroup legend="Scopes" name="scopes" options={scopes} isChecked={() => false} error={error} />
      <button className="btn-primary" disabled={pending}>
        {pending ? "Creating…" : "Create token"}
      </button>
      {issued && (
        <div className="rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950">
          <p>Copy the token now: it is shown only this once.</p>
          <input
            readOnly
            value={issued}
            className="input mt-2 font-mono text-xs"
            data-testid="new-token"
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
      )}
    </form>
  );
}

export function RevokeTokenButton({ slug, tokenId, name }: { slug: string; tokenId: string; name: string }) {
  const router = useRouter();
  const { run, pending, error } = useAction(revokeApiTokenAction.bind(null, slug), () => router.refresh());
  return (
    <span>
      <button
        type="button"
        className="btn-danger px-2 py-1 text-xs"
        disabled={pending}
        onClick={() => confirm(`Revoke ${name}? Requests with it are refused from now on.`) && run({ tokenId })}
      >
        Revoke
      </button>
      {error && <span className="block text-xs text-red-700 dark:text-red-400">{error.message}</span>}
    </span>
  );
}

"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { setMailPreferencesAction } from "./actions";

/** Which notification e-mails this person gets: each kind is on unless they turn it off. */
export function MailPreferences({ kinds, muted }: { kinds: { id: string; name: string }[]; muted: string[] }) {
  const router = useRouter();
  const [saved, setSaved] = useState(false);
  const { run, pending, error } = useAction(setMailPreferencesAction, () => {
    setSaved(true);
    router.refresh();
  });
  return (
    <form
      className="space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        const off = [...e.currentTarget.querySelectorAll<HTMLInputElement>('input[name="mail"]:not(:checked)')].map(
          (i) => i.value,
        );
        setSaved(false);
        run({ muted: off as Parameters<typeof run>[0]["muted"] });
      }}
    >
      <FormError error={error} />
      <fieldset className="grid gap-1 sm:grid-cols-2">
        <legend className="label">E-mail me when</legend>
        {kinds.map((k) => (
          <label key={k.id} className="inline-flex items-center gap-2 text-sm">
            <input type="checkbox" name="mail" value={k.id} defaultChecked={!muted.includes(k.id)} /> {k.name}
          </label>
        ))}
      </fieldset>
      <div className="flex items-center gap-3">
        <button className="btn-secondary" disabled={pending}>
          {pending ? "Saving…" : "Save e-mail choices"}
        </button>
        {saved && (
          <span className="muted" data-testid="mail-saved">
            Saved.
          </span>
        )}
      </div>
    </form>
  );
}

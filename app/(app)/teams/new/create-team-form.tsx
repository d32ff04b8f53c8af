"use client";
import { useRouter } from "next/navigation";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import { createTeamAction } from "../../account/actions";

export function CreateTeamForm() {
  const router = useRouter();
  const { run, pending, error } = useAction(createTeamAction, (team) => router.push(`/${team.slug}`));
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        run({ name: formFields(e.currentTarget).name ?? "" });
      }}
    >
      <FormError error={error} />
      <Field label="Team name" name="name" required error={error} />
      <button className="btn-primary w-full" disabled={pending}>
        {pending ? "Creating…" : "Create team"}
      </button>
    </form>
  );
}

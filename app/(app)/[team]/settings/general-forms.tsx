"use client";
import { useRouter } from "next/navigation";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction, type ActionError } from "@/app/_components/use-action";
import type { RetentionPolicy } from "@/lib/retention/select";
import { leaveTeamAction, setTrashDaysAction, updateTeamAction, updateTeamRetentionAction } from "../actions";
import { RetentionFields, retentionFrom } from "../schedules/retention-fields";

export function TeamForm({ slug, name, editable }: { slug: string; name: string; editable: boolean }) {
  const router = useRouter();
  const { run, pending, error } = useAction(updateTeamAction.bind(null, slug), (team) => {
    if (team.slug !== slug) router.replace(`/${team.slug}/settings`);
    router.refresh();
  });
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const f = formFields(e.currentTarget);
        run({ name: f.name ?? "", slug: f.slug ?? "" });
      }}
    >
      <FormError error={error} />
      <Field label="Name" name="name" defaultValue={name} disabled={!editable} required error={error} />
      <Field
        label="Address"
        name="slug"
        defaultValue={slug}
        disabled={!editable}
        required
        error={error}
        hint="Used in the team's URLs: /your-address/…"
      />
      {editable ? (
        <button className="btn-primary" disabled={pending}>
          {pending ? "Saving…" : "Save"}
        </button>
      ) : (
        <p className="muted">Only admins and owners can change these.</p>
      )}
    </form>
  );
}

export function LeaveTeam({ slug }: { slug: string }) {
  const router = useRouter();
  const { run, pending, error } = useAction(leaveTeamAction.bind(null, slug), () => {
    router.replace("/");
    router.refresh();
  });
  return (
    <div className="space-y-3">
      <FormError error={error} />
      <button className="btn-danger" disabled={pending} onClick={() => confirm("Leave this team?") && run({})}>
        Leave team
      </button>
    </div>
  );
}

/** The action checks the policy itself (`daily`); its fields are named as in a schedule (`retention.daily`). */
function asRetentionFields(error: ActionError | null): ActionError | null {
  if (!error?.fieldErrors) return error;
  return {
    ...error,
    fieldErrors: Object.fromEntries(Object.entries(error.fieldErrors).map(([k, v]) => [`retention.${k}`, v])),
  };
}

/** The team's default retention (backups no schedule made), without a dry run: it applies per server and set of sources. */
export function TeamRetentionForm({ slug, policy, keeps }: { slug: string; policy: RetentionPolicy; keeps: string }) {
  const router = useRouter();
  const save = useAction(updateTeamRetentionAction.bind(null, slug), () => router.refresh());
  return (
    <form
      className="space-y-3"
      aria-label="Default retention"
      onSubmit={(e) => {
        e.preventDefault();
        save.run(retentionFrom(e.currentTarget));
      }}
    >
      <p className="text-sm" data-testid="team-keeps">
        Now: {keeps}.
      </p>
      <FormError error={save.error} />
      <RetentionFields slug={slug} policy={policy} error={asRetentionFields(save.error)} />
      <button className="btn-primary" disabled={save.pending}>
        {save.pending ? "Saving…" : "Save retention"}
      </button>
    </form>
  );
}

/** How many days removed backups stay in the trash. */
export function TrashDaysForm({ slug, days }: { slug: string; days: number }) {
  const router = useRouter();
  const save = useAction(setTrashDaysAction.bind(null, slug), () => router.refresh());
  return (
    <form
      className="space-y-3"
      aria-label="Trash"
      onSubmit={(e) => {
        e.preventDefault();
        save.run({ days: Number(formFields(e.currentTarget).days) });
      }}
    >
      <FormError error={save.error} />
      <Field
        label="Days in the trash"
        name="days"
        type="number"
        min={1}
        max={365}
        defaultValue={String(days)}
        required
        error={save.error}
      />
      <button className="btn-primary" disabled={save.pending}>
        {save.pending ? "Saving…" : "Save"}
      </button>
    </form>
  );
}

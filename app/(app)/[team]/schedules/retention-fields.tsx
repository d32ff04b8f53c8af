"use client";
import { useState } from "react";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction, type ActionError } from "@/app/_components/use-action";
import type { RetentionPolicy } from "@/lib/retention/select";
import { previewRetentionAction } from "./actions";

const counts = [
  ["last", "Keep the last (backups)"],
  ["daily", "Days"],
  ["weekly", "Weeks"],
  ["monthly", "Months"],
  ["yearly", "Years"],
] as const;

/** The policy in a schedule form's fields. */
export function retentionFrom(form: HTMLFormElement): RetentionPolicy {
  const f = formFields(form);
  // A blank field is NaN, which the server refuses, never 0 (which would expire backups at once).
  const n = (k: string) => {
    const v = f[`retention.${k}`]?.trim();
    return v ? Number(v) : Number.NaN;
  };
  return {
    keepAll: (form.elements.namedItem("retention.keepAll") as HTMLInputElement).checked,
    last: n("last"),
    daily: n("daily"),
    weekly: n("weekly"),
    monthly: n("monthly"),
    yearly: n("yearly"),
  };
}

/**
 * Grandfather–father–son counts, in the schedule's time zone, and for an existing schedule a dry
 * run: which of its backups the policy in the form would expire, before anything is saved.
 */
export function RetentionFields({
  slug,
  policy,
  scheduleId,
  error,
}: {
  slug: string;
  policy: RetentionPolicy;
  scheduleId?: string;
  error: ActionError | null;
}) {
  const [result, setResult] = useState<{ expire: { id: string; fileName: string }[]; keep: number } | null>(null);
  const preview = useAction(previewRetentionAction.bind(null, slug), setResult);
  return (
    <fieldset className="space-y-2" data-testid="retention-fields">
      <legend className="label">Keep</legend>
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-5">
        {counts.map(([k, label]) => (
          <Field
            key={k}
            label={label}
            name={`retention.${k}`}
            type="number"
            min={0}
            step={1}
            required
            defaultValue={policy[k]}
            error={error}
          />
        ))}
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="retention.keepAll" defaultChecked={policy.keepAll} /> Keep every backup until it is
        deleted
      </label>
      <p className="muted text-xs">
        The newest backup of each day, ISO week, month and year counts, in the schedule&apos;s time zone. The latest
        successful and the latest verified backup are always kept.
      </p>
      {scheduleId && (
        <div className="space-y-2">
          <button
            type="button"
            className="btn-secondary"
            disabled={preview.pending}
            onClick={(e) =>
              preview.run({
                scheduleId,
                retention: retentionFrom(e.currentTarget.form!),
                timezone: formFields(e.currentTarget.form!).timezone,
              })
            }
          >
            Preview
          </button>
          <FormError error={preview.error} />
          {result && (
            <div className="text-sm" data-testid="retention-preview">
              {result.expire.length === 0 ? (
                <p>
                  {result.keep === 1
                    ? "This policy keeps the only backup of this schedule."
                    : `This policy keeps all ${result.keep} backups of this schedule.`}
                </p>
              ) : (
                <>
                  <p>
                    This policy would expire {result.expire.length} of {result.expire.length + result.keep} backups
                    (every stored copy deleted):
                  </p>
                  <ul className="mt-1 list-disc pl-5 font-mono text-xs">
                    {result.expire.map((b) => (
                      <li key={b.id}>{b.fileName}</li>
                    ))}
                  </ul>
                </>
              )}
            </div>
          )}
        </div>
      )}
    </fieldset>
  );
}

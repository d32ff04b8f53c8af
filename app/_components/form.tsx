import type { ActionError } from "./use-action";

export function FormError({ error }: { error: ActionError | null }) {
  if (!error) return null;
  return (
    <p
      role="alert"
      data-testid="form-error"
      className="rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-300"
    >
      {error.message}
    </p>
  );
}

/**
 * The field's own messages, and those of its entries: a list field (one path per line) has its
 * errors named `paths.1`, shown as "Entry 2: …" under it rather than nowhere.
 */
function messagesFor(error: ActionError | null, name: string): string[] | undefined {
  const fields = error?.fieldErrors;
  if (!fields) return undefined;
  const out = [...(fields[name] ?? [])];
  for (const [key, list] of Object.entries(fields)) {
    const entry = key.startsWith(`${name}.`) ? /^\d+$/.exec(key.slice(name.length + 1)) : null;
    if (entry) out.push(...list.map((m) => `Entry ${Number(entry[0]) + 1}: ${m}`));
  }
  return out.length ? out : undefined;
}

type FieldProps = { label: string; name: string; error: ActionError | null; hint?: string };

/** Label, control, then the field's own error (from the action's fieldErrors) or a hint. */
function FieldShell({
  label,
  name,
  error,
  hint,
  children,
}: Omit<FieldProps, "error"> & {
  error: ActionError | null;
  children: (a11y: { id: string; "aria-invalid"?: true; "aria-describedby"?: string }) => React.ReactNode;
}) {
  const messages = messagesFor(error, name);
  const id = `field-${name}`;
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      {children({ id, ...(messages && { "aria-invalid": true as const, "aria-describedby": `${id}-error` }) })}
      {hint && !messages && <p className="muted mt-1 text-xs">{hint}</p>}
      {messages && (
        <p id={`${id}-error`} className="mt-1 text-xs text-red-700 dark:text-red-400">
          {messages.join(" ")}
        </p>
      )}
    </div>
  );
}

export function Field({
  label,
  name,
  error,
  hint,
  ...input
}: FieldProps & React.InputHTMLAttributes<HTMLInputElement>) {
  return (
    <FieldShell label={label} name={name} error={error} hint={hint}>
      {(a11y) => <input name={name} className="input" {...a11y} {...input} />}
    </FieldShell>
  );
}

export function TextArea({
  label,
  name,
  error,
  hint,
  ...input
}: FieldProps & React.TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return (
    <FieldShell label={label} name={name} error={error} hint={hint}>
      {(a11y) => <textarea name={name} className="input font-mono text-xs" rows={4} {...a11y} {...input} />}
    </FieldShell>
  );
}

/** A labelled select of `options`; the rest of the props go to the `<select>` (controlled or not). */
export function Select({
  label,
  name,
  id = `field-${name}`,
  options,
  ...select
}: {
  label: string;
  name: string;
  id?: string;
  options: { value: string; label: string }[];
} & React.SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <select id={id} name={name} className="input" {...select}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A set of checkboxes named `name` (read with `checkedValues`), with the field's own error. */
export function CheckboxGroup({
  legend,
  name,
  options,
  isChecked,
  empty,
  error,
}: {
  legend: string;
  name: string;
  options: { id: string; name: string }[];
  isChecked: (id: string) => boolean;
  empty?: React.ReactNode;
  error?: ActionError | null;
}) {
  const messages = error?.fieldErrors?.[name];
  return (
    <fieldset>
      <legend className="label">{legend}</legend>
      {options.length === 0 && empty && <p className="muted text-sm">{empty}</p>}
      {options.map((o) => (
        <label key={o.id} className="mr-4 inline-flex items-center gap-2 text-sm">
          <input type="checkbox" name={name} value={o.id} defaultChecked={isChecked(o.id)} /> {o.name}
        </label>
      ))}
      {messages && <p className="mt-1 text-xs text-red-700 dark:text-red-400">{messages.join(" ")}</p>}
    </fieldset>
  );
}

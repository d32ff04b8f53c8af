import type { ActionError } from "./use-action";

export function FormError({ error }: { error: ActionError | null }) {
  if (!error) return null;
  return (
    <p role="alert" data-testid="form-error" className="rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-300">
      {error.message}
    </p>
  );
}

export function Field({
  label,
  name,
  error,
  hint,
  ...input
}: { label: string; name: string; error: ActionError | null; hint?: string } & React.InputHTMLAttributes<HTMLInputElement>) {
  const messages = error?.fieldErrors?.[name];
  const id = `field-${name}`;
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <input id={id} name={name} className="input" aria-invalid={messages ? true : undefined} aria-describedby={messages ? `${id}-error` : undefined} {...input} />
      {hint && !messages && <p className="muted mt-1 text-xs">{hint}</p>}
      {messages && (
        <p id={`${id}-error`} className="mt-1 text-xs text-red-700 dark:text-red-400">
          {messages.join(" ")}
        </p>
      )}
    </div>
  );
}

export function TextArea({
  label,
  name,
  error,
  hint,
  ...input
}: { label: string; name: string; error: ActionError | null; hint?: string } & React.TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const messages = error?.fieldErrors?.[name];
  const id = `field-${name}`;
  return (
    <div>
      <label htmlFor={id} className="label">
        {label}
      </label>
      <textarea id={id} name={name} className="input font-mono text-xs" rows={4} aria-invalid={messages ? true : undefined} {...input} />
      {hint && !messages && <p className="muted mt-1 text-xs">{hint}</p>}
      {messages && <p className="mt-1 text-xs text-red-700 dark:text-red-400">{messages.join(" ")}</p>}
    </div>
  );
}

"use client";
import { useState } from "react";
import { Field, TextArea } from "./form";
import type { ActionError } from "./use-action";

/**
 * A stored secret is never sent back to the browser: the form shows that one is set and offers
 * to replace it. Left alone, the field submits empty, which keeps the stored value.
 */
export function SecretField({
  label,
  name,
  isSet,
  error,
  multiline,
  hint,
}: {
  label: string;
  name: string;
  isSet: boolean;
  error: ActionError | null;
  multiline?: boolean;
  hint?: string;
}) {
  const [replacing, setReplacing] = useState(!isSet);
  if (!replacing) {
    return (
      <div>
        <span className="label">{label}</span>
        <div className="flex items-center gap-3 text-sm">
          <span className="badge" data-testid={`${name}-set`}>
            set
          </span>
          <button
            type="button"
            className="text-indigo-600 hover:underline dark:text-indigo-400"
            onClick={() => setReplacing(true)}
          >
            Replace
          </button>
        </div>
      </div>
    );
  }
  return multiline ? (
    <TextArea label={label} name={name} error={error} hint={hint} autoComplete="off" spellCheck={false} />
  ) : (
    <Field label={label} name={name} type="password" error={error} hint={hint} autoComplete="new-password" />
  );
}

"use client";
import { useState, useTransition } from "react";
import type { ActionResult } from "@/lib/web/action";

export type ActionError = Extract<ActionResult<never>, { ok: false }>["error"];

/** Runs a server action from a client component, keeping its pending state and its error. */
export function useAction<I, T>(action: (input: I) => Promise<ActionResult<T>>, onSuccess?: (data: T) => void) {
  const [pending, start] = useTransition();
  const [error, setError] = useState<ActionError | null>(null);
  const run = (input: I) =>
    start(async () => {
      let result: ActionResult<T>;
      try {
        result = await action(input);
      } catch {
        // Thrown only when no answer came (a dropped connection, a restart, a deploy): keep the form.
        setError({
          code: "UPSTREAM",
          message:
            "Coffer did not answer (the connection dropped, Coffer restarted, or what was sent is larger than it takes). What you entered is still here: check whether it was saved, then try again.",
        });
        return;
      }
      if (result.ok) {
        setError(null);
        onSuccess?.(result.data);
      } else {
        setError(result.error);
      }
    });
  return { run, pending, error };
}

/** FormData → plain object of its string fields, for actions that take objects. */
export function formFields(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries(
    [...new FormData(form).entries()].filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

/** The values of the checked checkboxes named `name` in a form. */
export function checkedValues(form: HTMLFormElement, name: string): string[] {
  return [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
}

import "server-only";
import { revalidatePath } from "next/cache";
import { unstable_rethrow } from "next/navigation";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { requireTeam, requireUser } from "../auth/session";
import type { UserContext } from "../auth/users";
import { asAppError, type ErrorCode, type FieldErrors } from "../errors";
import { log } from "../log";
import type { TeamContext } from "../teams/context";
import type { Role } from "../teams/roles";
import { parseInput } from "./input";

export type ActionResult<T> =
  { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string; fieldErrors?: FieldErrors } };

/** Maps anything thrown to what the browser may see: AppError as is, anything else as a reference number. */
export function toActionError(err: unknown): Extract<ActionResult<never>, { ok: false }> {
  unstable_rethrow(err); // redirect() and notFound() are Next.js control flow, not failures
  const known = asAppError(err);
  if (known) return { ok: false, error: { code: known.code, message: known.message, fieldErrors: known.fieldErrors } };
  const ref = randomBytes(4).toString("hex");
  log.error("action failed", { ref, error: err });
  return {
    ok: false,
    error: {
      code: "INTERNAL",
      message: `Something went wrong on our side (reference ${ref}). Try again; if it keeps happening, tell your administrator.`,
    },
  };
}

async function run<T>(fn: () => Promise<T>): Promise<ActionResult<T>> {
  try {
    return { ok: true, data: await fn() };
  } catch (err) {
    return toActionError(err);
  }
}

/**
 * A team-scoped server action: parse → resolve team and role → lib → revalidate the team's pages.
 * Every action is a public POST endpoint, so nothing here trusts the caller.
 */
export function teamAction<S extends z.ZodType, T>(
  schema: S,
  min: Role,
  fn: (t: TeamContext, input: z.infer<S>) => Promise<T>,
) {
  return async (teamSlug: string, input: z.input<S>): Promise<ActionResult<T>> =>
    run(async () => {
      const t = await requireTeam(String(teamSlug), min);
      const data = await fn(t, parseInput(schema, input));
      revalidatePath(`/${t.slug}`, "layout");
      return data;
    });
}

/** A server action for a signed-in user, outside any one team. */
export function userAction<S extends z.ZodType, T>(schema: S, fn: (u: UserContext, input: z.infer<S>) => Promise<T>) {
  return async (input: z.input<S>): Promise<ActionResult<T>> =>
    run(async () => fn(await requireUser(), parseInput(schema, input)));
}

/** A server action anyone may call (sign-up, sign-in). */
export function publicAction<S extends z.ZodType, T>(schema: S, fn: (input: z.infer<S>) => Promise<T>) {
  return async (input: z.input<S>): Promise<ActionResult<T>> => run(async () => fn(parseInput(schema, input)));
}

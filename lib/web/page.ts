import "server-only";
import { headers } from "next/headers";
import { forbidden, notFound, redirect } from "next/navigation";
import { requireTeam, requireUser } from "../auth/session";
import { AppError } from "../errors";
import type { Role } from "../teams/roles";

/** For Server Components: turns the lib's errors into the sign-in redirect, a 404 page or a 403 page. */
async function orPage<T>(fn: () => Promise<T>, fallbackNext: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.code === "UNAUTHENTICATED") {
      const next = (await headers()).get("x-coffer-path") ?? fallbackNext; // set by proxy.ts
      redirect(`/sign-in?next=${encodeURIComponent(next)}`);
    }
    if (err.code === "NOT_FOUND") notFound();
    if (err.code === "FORBIDDEN") forbidden();
    throw err;
  }
}

export const pageUser = () => orPage(() => requireUser(), "/");
export const pageTeam = (slug: string, min: Role = "viewer") => orPage(() => requireTeam(slug, min), `/${slug}`);

/** A lib read of one row for a page: NOT_FOUND renders the 404 page. */
export const pageRow = <T>(read: Promise<T>) => orPage(() => read, "/");

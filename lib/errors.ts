import { ZodError } from "zod";

export const errorCodes = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "VALIDATION",
  "CONFLICT",
  "RATE_LIMITED",
  "TOO_LARGE",
  "TIMEOUT",
  "UPSTREAM",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export type FieldErrors = Record<string, string[]>;

/** The only error whose message reaches users; it says what to do next. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly fieldErrors?: FieldErrors;
  constructor(code: ErrorCode, message: string, fieldErrors?: FieldErrors) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.fieldErrors = fieldErrors;
  }
}

export const notFound = (what = "That item") =>
  new AppError("NOT_FOUND", `${what} does not exist or you do not have access to it.`);
export const forbidden = (needed: string) =>
  new AppError("FORBIDDEN", `This needs the ${needed} role or higher. Ask a team owner or admin.`);

export const httpStatus: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION: 400,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  TOO_LARGE: 413,
  TIMEOUT: 408,
  UPSTREAM: 502,
  INTERNAL: 500,
};

/** Validation failures from zod become VALIDATION with per-field messages; anything else unknown stays unknown. */
export function asAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) {
    const fieldErrors: FieldErrors = {};
    for (const issue of err.issues) (fieldErrors[issue.path.join(".") || "form"] ??= []).push(issue.message);
    return new AppError("VALIDATION", "Check the highlighted fields.", fieldErrors);
  }
  const pg = (err as { cause?: { code?: string } } | null)?.cause?.code ?? (err as { code?: string } | null)?.code;
  if (pg === "40P01" || pg === "40001")
    return new AppError("CONFLICT", "Someone changed this at the same moment. Reload and try again.");
  // A NUL or a byte sequence PostgreSQL cannot store in text, from input that reached a query unchecked.
  if (pg === "22021" || pg === "22P05")
    return new AppError(
      "VALIDATION",
      "The request holds a character that cannot be stored (such as a NUL byte): remove it and use plain text.",
    );
  return undefined;
}

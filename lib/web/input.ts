import { z } from "zod";
import { AppError, type FieldErrors } from "../errors";

/**
 * Control characters have no place in anything a form or request sends: NUL cannot be stored
 * (PostgreSQL refuses it in text, which surfaced as a 500) and the others hide text in logs,
 * terminals and file names. Tab, line feed and carriage return stay allowed for multi-line fields
 * (keys, path lists); single-line fields refuse those in their own schemas.
 */
const controlCharacter = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function findControlCharacters(value: unknown, path: (string | number)[], out: FieldErrors, depth = 0): void {
  if (depth > 20) return;
  if (typeof value === "string") {
    if (controlCharacter.test(value))
      (out[path.join(".") || "form"] ??= []).push(
        "Remove the control character (such as a NUL byte) from this field: use plain text.",
      );
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findControlCharacters(v, [...path, i], out, depth + 1));
  } else if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) findControlCharacters(v, [...path, k], out, depth + 1);
  }
}

/**
 * Parses what a caller sent with `schema`, refusing control characters in any field first
 * (AppError VALIDATION naming the fields). Every server action and route handler parses its
 * input through this, so a new schema cannot forget the check.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const fieldErrors: FieldErrors = {};
  findControlCharacters(input, [], fieldErrors);
  const fields = Object.keys(fieldErrors);
  if (fields.length)
    throw new AppError(
      "VALIDATION",
      `${fields.join(", ")} contain${fields.length === 1 ? "s" : ""} a control character (such as a NUL byte): remove it and use plain text.`,
      fieldErrors,
    );
  return schema.parse(input);
}

/**
 * A URL's query parameters, each given once: a repeated one (`?a=1&a=2`, as some clients send an
 * array) is refused rather than read as its last value. Lists are one comma-separated value.
 */
export function queryParams(url: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URL(url).searchParams) {
    if (Object.hasOwn(out, key))
      throw new AppError("VALIDATION", `Give the query parameter ${key} once; a list is one comma-separated value.`, {
        [key]: ["Given more than once."],
      });
    out[key] = value;
  }
  return out;
}

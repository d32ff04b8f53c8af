import { z } from "zod";

/**
 * `inner`, read from a form's text or from JSON: a numeric string becomes its number, while a
 * blank field, null or a boolean is refused by `inner` (z.coerce.number read them as 0 or 1, so
 * a cleared "keep 7 days" field saved 0).
 */
export const wholeNumber = (inner: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v), inner);

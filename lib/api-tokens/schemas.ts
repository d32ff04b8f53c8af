import { z } from "zod";
import { idOf } from "../ids";
import { scopes } from "./scopes";

export const createApiTokenSchema = z.object({
  name: z
    .string()
    .trim()
    .min(1, "Name the token after where it is used (e.g. prometheus, ci).")
    .max(80, "Use at most 80 characters."),
  scopes: z
    .array(z.enum(scopes, `Unknown scope. Choose from: ${scopes.join(", ")}.`))
    .min(1, "Choose at least one scope.")
    .transform((l) => [...new Set(l)]),
  /** Days until it stops working; absent: it works until revoked. */
  expiresInDays: z.preprocess(
    (v) => (v === "" || v === "never" ? undefined : v),
    z.coerce
      .number()
      .int("Use a whole number of days.")
      .min(1, "Use 1 to 3650 days.")
      .max(3650, "Use 1 to 3650 days.")
      .optional(),
  ),
});
export type CreateApiTokenInput = z.infer<typeof createApiTokenSchema>;

export const apiTokenRefSchema = z.object({ tokenId: idOf("tok", "API token") });

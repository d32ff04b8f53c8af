import { z } from "zod";
import { idPattern } from "@/db/columns";
import { errorCodes } from "../errors";

/** Times cross the wire as ISO 8601 strings in UTC (`2026-01-31T02:00:00.000Z`). */
export const isoTime = z.iso.datetime().meta({ example: "2026-01-31T02:00:00.000Z" });

/** An id in a URL path: the wrong kind of id says which kind is expected. */
export const pathId = (prefix: string, what: string) =>
  z
    .string()
    .regex(idPattern(prefix), `A ${what} id starts with ${prefix}_ (use the id the API returned).`)
    .meta({ example: `${prefix}_01jq8x2m4k9p3r7t5v6w8y0z2a` });

/** A query parameter that accepts an ISO 8601 time. */
export const queryTime = z.iso
  .datetime({ offset: true, message: "Use an ISO 8601 time such as 2026-01-31T02:00:00Z." })
  .transform((s) => new Date(s))
  .refine(storable, "Use a time from the year 1 to 9999.");

/** A time PostgreSQL takes (it refuses year 0, which ISO 8601 and Date allow). */
function storable(d: Date): boolean {
  const year = d.getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** A comma-separated query list of one of `values`. */
export const queryList = <T extends string>(values: readonly [T, ...T[]], what: string) =>
  z
    .string()
    .transform((s) => s.split(",").filter(Boolean))
    .pipe(z.array(z.enum(values, `Use ${what} from: ${values.join(", ")} (comma-separated).`)))
    .meta({ description: `Comma-separated: ${values.join(", ")}.` });

export const limitParam = z.coerce
  .number()
  .int("Use a whole number.")
  .min(1, "Use 1 to 200.")
  .max(200, "Use 1 to 200.")
  .default(50)
  .meta({ description: "Items per page (1–200, default 50)." });

/** Keyset cursor: the position after the last item of a page (opaque to callers). */
export const cursor = {
  encode: (at: Date, id: string) => Buffer.from(JSON.stringify([at.toISOString(), id])).toString("base64url"),
  schema: z
    .string()
    .transform((s, ctx) => {
      try {
        const [at, id] = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as [string, string];
        const createdAt = new Date(at);
        if (typeof id === "string" && /^[a-z]+_[0-9a-z]{26}$/.test(id) && storable(createdAt)) return { createdAt, id };
      } catch {}
      ctx.addIssue({ code: "custom", message: "Use the nextCursor of the previous page as it was returned." });
      return z.NEVER;
    })
    .meta({ description: "The `nextCursor` of the previous page." }),
};

export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string().meta({ description: "What went wrong and what to do about it." }),
      details: z
        .object({
          fields: z
            .record(z.string(), z.array(z.string()))
            .meta({ description: "Messages per invalid field, named by where it is: `body.serverId`, `query.limit`." })
            .optional(),
        })
        .nullable(),
    }),
  })
  .meta({ id: "Error" });

export const idempotencyKeyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, "Use 1 to 255 visible ASCII characters (a UUID, for example).")
    .optional()
    .meta({
      description: "The same key (with the same body) within 24 hours answers with the backup the first request made.",
    }),
});

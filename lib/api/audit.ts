import { z } from "zod";
import { operation } from "./operation";
import { isoTime } from "./schemas";
import { parseAuditCursor } from "../audit/cursor";

export const auditEventSchema = z
  .object({
    id: z.string(),
    at: isoTime,
    actor: z
      .string()
      .meta({ description: `A member's e-mail, "token <name> (<token id>, created by <e-mail>)", or "system: …".` }),
    action: z.string().meta({ example: "backup.requested" }),
    targetType: z.string().nullable(),
    targetLabel: z.string().nullable(),
    ip: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: "AuditEvent" });

export const listAuditLogOp = operation({
  id: "listAuditLog",
  method: "get",
  path: "/audit-log",
  tag: "Audit log",
  summary: "The team's audit log, newest first (JSON pages, or all of it as CSV)",
  description: "Needs a token acting as an admin (made by an admin, with the admin scope).",
  scope: "admin",
  query: z.strictObject({
    action: z.string().trim().max(100).optional().meta({ description: "Actions starting with this, e.g. backup." }),
    actor: z.string().trim().max(200).optional().meta({ description: "Actors containing this." }),
    cursor: z
      .string()
      .max(100)
      .refine((c) => parseAuditCursor(c) !== undefined, "Use the nextCursor of the previous page as it was returned.")
      .optional()
      .meta({ description: "The `nextCursor` of the previous page." }),
    format: z.enum(["json", "csv"], "Use json or csv.").default("json"),
  }),
  response: z.object({ data: z.array(auditEventSchema), nextCursor: z.string().nullable() }),
  alsoAs: "text/csv",
});

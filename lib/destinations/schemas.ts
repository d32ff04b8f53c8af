import { z } from "zod";
import { idOf } from "../ids";
import { absolutePathSchema, nameSchema } from "../servers/schemas";

export const destinationKinds = ["local", "server", "s3", "gcs", "azure"] as const;
export type DestinationKind = (typeof destinationKinds)[number];

/** Per kind: which form fields are settings (stored as they are) and which are secrets (sealed). */
export const providerFields = {
  local: { settings: ["prefix"], secrets: [] },
  server: { settings: ["prefix"], secrets: [] },
  s3: {
    settings: ["bucket", "prefix", "region", "endpoint", "forcePathStyle"],
    secrets: ["accessKeyId", "secretAccessKey"],
  },
  gcs: { settings: ["bucket", "prefix", "projectId", "apiEndpoint"], secrets: ["credentials"] },
  azure: {
    settings: ["container", "prefix", "accountName", "endpoint"],
    secrets: ["connectionString", "accountKey", "sasUrl"],
  },
} as const satisfies Record<DestinationKind, { settings: readonly string[]; secrets: readonly string[] }>;

/** Default storage class per retention tier (the runbook's: daily STANDARD, weekly STANDARD_IA, monthly GLACIER). */
export const defaultClasses: Record<DestinationKind, [daily: string, weekly: string, monthly: string] | null> = {
  local: null,
  server: null,
  s3: ["STANDARD", "STANDARD_IA", "GLACIER"],
  gcs: ["STANDARD", "NEARLINE", "COLDLINE"],
  azure: ["Hot", "Cool", "Cold"],
};

const optionalClass = z.string().trim().max(40).optional(); // empty: the provider's default for the tier

/**
 * The destination form. Provider fields are checked in depth by lib/storage's own schema once
 * secrets left empty on an edit have been filled in from the stored ones.
 */
const fields = z
  .object({
    name: nameSchema,
    kind: z.enum(destinationKinds, "Choose where backups go."),
    serverId: idOf("srv", "server").optional(),
    path: absolutePathSchema.optional(),
    classDaily: optionalClass,
    classWeekly: optionalClass,
    classMonthly: optionalClass,
  })
  .catchall(z.union([z.string().max(20_000), z.boolean()]));

export const createDestinationSchema = fields;
export type CreateDestinationInput = z.infer<typeof createDestinationSchema>;
export const destinationRefSchema = z.object({ destinationId: idOf("dst", "destination") });
export const updateDestinationSchema = fields.extend({ destinationId: idOf("dst", "destination") });
export type UpdateDestinationInput = z.infer<typeof updateDestinationSchema>;

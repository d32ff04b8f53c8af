import "server-only";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { env } from "../env";
import { AppError } from "../errors";
import { resolveAllowedAddress } from "../net/address-guard";
import { customEndpointHosts, parseStorageConfig, STORAGE_CLASSES, type StorageConfig } from "../storage";
import { defaultClasses, providerFields, type DestinationKind } from "./schemas";

export type Settings = Record<string, string | boolean>;
export type Secrets = Record<string, string>;

/**
 * Splits the form's provider fields into plain settings and secrets; empty fields are left out.
 * forcePathStyle is stored only when sent: left out, lib/storage picks path-style for a custom endpoint.
 */
export function splitFields(
  kind: DestinationKind,
  input: Record<string, unknown>,
): { settings: Settings; secrets: Secrets } {
  const settings: Settings = {};
  const secrets: Secrets = {};
  for (const name of providerFields[kind].settings) {
    const v = input[name];
    if (name === "forcePathStyle") {
      if (v === true || v === "on" || v === "true") settings[name] = true;
      else if (v === false || v === "false") settings[name] = false;
    } else if (typeof v === "string" && v.trim() !== "") settings[name] = v.trim();
  }
  for (const name of providerFields[kind].secrets) {
    const v = input[name];
    if (typeof v === "string" && v.trim() !== "") secrets[name] = v.trim();
  }
  return { settings, secrets };
}

/** Where a team's "local disk" destinations live: inside the data folder, one folder per team. */
function teamStorageRoot(teamId: string): string {
  const root = path.resolve(env().DATA_DIR, "storage", teamId);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return root;
}

/** The adapter configuration of a cloud or local-disk destination, validated by lib/storage. */
export function storageConfig(
  teamId: string,
  kind: Exclude<DestinationKind, "server">,
  settings: Settings,
  secrets: Secrets,
): StorageConfig {
  if (kind === "local")
    return parseStorageConfig({
      kind,
      root: teamStorageRoot(teamId),
      prefix: settings.prefix,
      label: "this team's folder on the Coffer host",
    });
  let credentials: unknown = undefined;
  if (kind === "gcs" && secrets.credentials) {
    try {
      credentials = JSON.parse(secrets.credentials);
    } catch {
      throw new AppError("VALIDATION", "The service-account key is not valid JSON: paste the whole key file.", {
        credentials: ["Paste the whole JSON key file."],
      });
    }
  }
  return parseStorageConfig({ kind, ...settings, ...secrets, ...(kind === "gcs" && { credentials }) });
}

/** Storage class per tier, defaulting to the provider's usual ladder; refuses a class the provider does not have. */
export function tierClasses(
  kind: DestinationKind,
  input: { classDaily?: string; classWeekly?: string; classMonthly?: string },
) {
  const defaults = defaultClasses[kind];
  if (!defaults) return { classDaily: null, classWeekly: null, classMonthly: null };
  const known: readonly string[] = STORAGE_CLASSES[kind as "s3" | "gcs" | "azure"];
  const pick = (field: "classDaily" | "classWeekly" | "classMonthly", fallback: string) => {
    const value = input[field] || fallback;
    const found = known.find((c) => c.toLowerCase() === value.toLowerCase());
    if (!found)
      throw new AppError(
        "VALIDATION",
        `${value} is not a storage class of this provider. Use one of: ${known.join(", ")}.`,
        { [field]: [`Use one of: ${known.join(", ")}.`] },
      );
    return found;
  };
  return {
    classDaily: pick("classDaily", defaults[0]),
    classWeekly: pick("classWeekly", defaults[1]),
    classMonthly: pick("classMonthly", defaults[2]),
  };
}

/** Refuses custom endpoints that resolve to loopback, private, link-local or metadata addresses (unless allowed). */
export async function guardEndpoints(config: StorageConfig): Promise<void> {
  for (const host of customEndpointHosts(config))
    await resolveAllowedAddress(host, { allowPrivate: env().allowPrivateNetworks });
}

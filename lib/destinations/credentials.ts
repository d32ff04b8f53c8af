import "server-only";
import { openSecret, sealSecret } from "../crypto/secret-box";
import type { TeamContext } from "../teams/context";
import type { Secrets } from "./config";

/** A destination's credentials are one sealed JSON object, bound to its team and row. */
const secretContext = (t: TeamContext, id: string) => ({
  teamId: t.id,
  table: "storage_destinations",
  column: "credentials_enc",
  rowId: id,
});

export function openCredentials(t: TeamContext, id: string, sealed: string | null): Secrets {
  return sealed ? (JSON.parse(openSecret(sealed, secretContext(t, id))) as Secrets) : {};
}

/** The sealed column value, or null when the destination has no secrets. */
export function sealCredentials(t: TeamContext, id: string, secrets: Secrets): string | null {
  return Object.keys(secrets).length ? sealSecret(JSON.stringify(secrets), secretContext(t, id)) : null;
}

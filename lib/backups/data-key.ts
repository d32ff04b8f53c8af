import "server-only";
import { unwrapDek } from "../crypto/envelope";
import { keyring } from "../crypto/master-keys";
import { AppError } from "../errors";
import type { TeamContext } from "../teams/context";

/** Opens a backup's data key (re-wrapped by key rotation on the row). */
export function openDataKey(
  t: TeamContext,
  row: { id: string; dekWrapped: string | null; dekKeyId: string | null },
): Buffer {
  if (!row.dekWrapped || !row.dekKeyId)
    throw new AppError("INTERNAL", "This encrypted backup has no data key on record.");
  return unwrapDek({ keyId: row.dekKeyId, wrapped: Buffer.from(row.dekWrapped, "base64") }, keyring(), t.id, row.id);
}

import { randomBytes } from "node:crypto";
import { text, timestamp } from "drizzle-orm/pg-core";

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32: no i, l, o, u

/** A prefixed random id (`srv_…`): 128 bits, readable in URLs and logs. */
export function newId(prefix: string): string {
  const bytes = randomBytes(16);
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return `${prefix}_${out}`;
}

/** What a `newId(prefix)` looks like, for validating ids that arrive from outside. */
export const idPattern = (prefix: string) => new RegExp(`^${prefix}_[0-9a-z]{26}$`);

export const idColumn = (prefix: string) =>
  text("id")
    .primaryKey()
    .$defaultFn(() => newId(prefix));

// Millisecond precision, as JavaScript dates have: keyset cursors compare exactly.
export const createdAt = () =>
  timestamp("created_at", { withTimezone: true, mode: "date", precision: 3 }).notNull().defaultNow();
export const timestampColumn = (name: string) => timestamp(name, { withTimezone: true, mode: "date", precision: 3 });

/**
 * A secret sealed by lib/crypto/secret-box. Every column named `*_enc` is one: key checks and
 * rotation find them by that suffix, so a new secret column cannot be forgotten.
 */
export const secretColumn = (name: `${string}_enc`) => text(name);

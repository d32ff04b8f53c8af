import { pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "../columns";

/**
 * One row per master key id this Coffer has been configured with: a check value of the key's bytes
 * (an HMAC of a fixed text, which tells nothing of the key), recorded the first time the id is
 * seen. A start with other bytes under a recorded id is refused (lib/crypto/key-checks.ts).
 */
export const masterKeyChecks = pgTable("master_key_checks", {
  keyId: text("key_id").primaryKey(),
  check: text("check").notNull(),
  createdAt: createdAt(),
});

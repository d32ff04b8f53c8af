// npm run keys:rotate — re-seals every stored secret under the newest MASTER_KEYS entry.
// Safe to stop and run again: each batch commits on its own. Prints counts only, never values.
import { keyring } from "@/lib/crypto/master-keys";
import { rotateSecrets } from "@/lib/crypto/rotate";
import { closeDatabase } from "@/lib/db";

const keys = keyring();
console.log(`Re-sealing secrets under master key "${keys.active.id}"…`);
try {
  const report = await rotateSecrets({ keys, onBatch: (column, resealed) => console.log(`  ${column}: ${resealed} re-sealed so far`) });
  for (const c of report.columns) console.log(`  ${c.column}: ${c.resealed} re-sealed`);
  console.log(`Done: ${report.total} secret(s) re-sealed; every secret is now under "${report.activeKeyId}". Older keys can be removed from MASTER_KEYS once no backup object names them.`);
} finally {
  await closeDatabase();
}

// npm run keys:rotate — re-seals every stored secret under the newest MASTER_KEYS entry.
// Safe to stop and run again: each batch commits on its own. Prints counts only, never values.
import { keyring } from "@/lib/crypto/master-keys";
import {
  keysNamedByObjectsAllTeams,
  rewrapDataKeysAllTeams,
  rotateSecrets,
  unknownKeyIdsInUseAllTeams,
} from "@/lib/crypto/rotate";
import { keysRecorded } from "@/lib/crypto/key-checks";
import { closeDatabase, databaseEmbeddedMissing, databaseWhere } from "@/lib/db";
import { formatCount } from "@/lib/format";

const keys = keyring();
// Run without Coffer's DATABASE_URL (or DATA_DIR), this would rotate an empty database and say
// the old keys can go: refused, since Coffer records its keys when it starts.
const notCoffers = `Coffer has not started on ${databaseWhere()} with this version (its start records the master keys): set DATABASE_URL (or DATA_DIR) as Coffer runs with, start Coffer once, then run this again. No key may be removed yet.`;
if (databaseEmbeddedMissing()) {
  console.error(notCoffers);
  process.exit(1);
}
console.log(`Database: ${databaseWhere()}.`);
try {
  if (await keysRecorded()) await rotate();
  else {
    console.error(notCoffers);
    process.exitCode = 1;
  }
} finally {
  await closeDatabase();
}

async function rotate() {
  console.log(`Re-sealing secrets under master key "${keys.active.id}"…`);
  const report = await rotateSecrets({
    keys,
    onBatch: (column, resealed) => console.log(`  ${column}: ${resealed} re-sealed so far`),
  });
  for (const c of report.columns) console.log(`  ${c.column}: ${c.resealed} re-sealed`);
  const rewrapped = await rewrapDataKeysAllTeams({ keys });
  console.log(
    `Done: ${formatCount(report.total, "secret")} re-sealed and ${formatCount(rewrapped, "backup data key")} re-wrapped.`,
  );
  // Checked, not assumed: an instance still running with the old key first writes under it meanwhile.
  const left = await unknownKeyIdsInUseAllTeams({ ...keys, byId: new Map([[keys.active.id, keys.active]]) });
  if (left.length) {
    console.log(
      `  Values under ${left.map((k) => `"${k}"`).join(", ")} remain (written while this ran, by an instance whose MASTER_KEYS still starts with that key): restart every instance with the new MASTER_KEYS, then run this again. Keep ${left.length === 1 ? "that key" : "those keys"} until it reports none.`,
    );
    process.exitCode = 1;
  } else console.log(`  Every secret and data key is now under "${report.activeKeyId}".`);
  const older = (await keysNamedByObjectsAllTeams({ trashed: true })).filter((k) => k.keyId !== keys.active.id);
  for (const k of older)
    console.log(
      `  ${formatCount(k.objects, "stored backup object")} (those in the trash included) still name key "${k.keyId}" in their header: keep it in MASTER_KEYS (decrypt-only, after the active one) and in your offline copy until those backups expire.`,
    );
  if (!older.length && !left.length)
    console.log("  No stored backup object names an older key: older keys can be removed from MASTER_KEYS.");
}

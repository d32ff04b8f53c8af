// npm run db:migrate — applies db/migrations to DATABASE_URL (or the PGlite data folder). The app
// also does this at start; this is for deploy pipelines that migrate before rolling out.
import { closeDatabase, databaseKind } from "@/lib/db";

console.log(`Migrated the ${await databaseKind()} database.`);
await closeDatabase();

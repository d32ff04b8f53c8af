// npm run db:migrate — applies db/migrations to DATABASE_URL (or the PGlite data folder). The app
// also does this at start; this is for deploy pipelines that migrate before rolling out.
import { closeDatabase, databaseKind, databaseWhere } from "@/lib/db";

await databaseKind(); // opening it migrates it
console.log(`Migrated ${databaseWhere()}.`);
await closeDatabase();

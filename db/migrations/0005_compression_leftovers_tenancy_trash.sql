CREATE TYPE "public"."compression" AS ENUM('fast', 'balanced', 'small');--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "compression" "compression" DEFAULT 'fast' NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "leftovers_pending_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TYPE "public"."backup_status" ADD VALUE 'trashed' BEFORE 'expired';--> statement-breakpoint
CREATE TABLE "backup_destinations" (
	"team_id" text NOT NULL,
	"backup_id" text NOT NULL,
	"destination_id" text NOT NULL,
	CONSTRAINT "backup_destinations_backup_id_destination_id_pk" PRIMARY KEY("backup_id","destination_id")
);
--> statement-breakpoint
CREATE TABLE "backup_sources" (
	"team_id" text NOT NULL,
	"backup_id" text NOT NULL,
	"source_id" text NOT NULL,
	CONSTRAINT "backup_sources_backup_id_source_id_pk" PRIMARY KEY("backup_id","source_id")
);
--> statement-breakpoint
ALTER TABLE "schedules" DROP CONSTRAINT "schedules_verify_source_fk";
--> statement-breakpoint
ALTER TABLE "backups" DROP CONSTRAINT "backups_schedule_fk";
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verified_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verification_sent_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "trash_days" integer DEFAULT 7 NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "trashed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "trashed_by" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "trashed_reason" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "pinned_at" timestamp (3) with time zone;--> statement-breakpoint
-- References that had no foreign key may point at rows deleted since: cleared, so the keys below hold.
UPDATE "restores" SET "connection_source_id" = NULL WHERE "connection_source_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "sources" s WHERE s."team_id" = "restores"."team_id" AND s."id" = "restores"."connection_source_id");--> statement-breakpoint
UPDATE "restores" SET "scratch_source_id" = NULL WHERE "scratch_source_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "sources" s WHERE s."team_id" = "restores"."team_id" AND s."id" = "restores"."scratch_source_id");--> statement-breakpoint
UPDATE "restores" SET "safety_backup_id" = NULL WHERE "safety_backup_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "backups" b WHERE b."team_id" = "restores"."team_id" AND b."id" = "restores"."safety_backup_id");--> statement-breakpoint
UPDATE "schedules" SET "verify_source_id" = NULL WHERE "verify_source_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "sources" s WHERE s."team_id" = "schedules"."team_id" AND s."id" = "schedules"."verify_source_id");--> statement-breakpoint
UPDATE "backups" SET "schedule_id" = NULL WHERE "schedule_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "schedules" s WHERE s."team_id" = "backups"."team_id" AND s."id" = "backups"."schedule_id");--> statement-breakpoint
-- Accounts made through GitHub or Google came with an address the provider verified.
UPDATE "users" SET "email_verified_at" = "created_at" WHERE EXISTS (SELECT 1 FROM "oauth_accounts" o WHERE o."user_id" = "users"."id");--> statement-breakpoint
ALTER TABLE "backup_destinations" ADD CONSTRAINT "backup_destinations_backup_fk" FOREIGN KEY ("team_id","backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_destinations" ADD CONSTRAINT "backup_destinations_destination_fk" FOREIGN KEY ("team_id","destination_id") REFERENCES "public"."storage_destinations"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_sources" ADD CONSTRAINT "backup_sources_backup_fk" FOREIGN KEY ("team_id","backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_sources" ADD CONSTRAINT "backup_sources_source_fk" FOREIGN KEY ("team_id","source_id") REFERENCES "public"."sources"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backup_destinations_destination_idx" ON "backup_destinations" USING btree ("team_id","destination_id");--> statement-breakpoint
CREATE INDEX "backup_sources_source_idx" ON "backup_sources" USING btree ("team_id","source_id");--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_verify_source_fk" FOREIGN KEY ("team_id","verify_source_id") REFERENCES "public"."sources"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_schedule_fk" FOREIGN KEY ("team_id","schedule_id") REFERENCES "public"."schedules"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restores" ADD CONSTRAINT "restores_connection_source_fk" FOREIGN KEY ("team_id","connection_source_id") REFERENCES "public"."sources"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restores" ADD CONSTRAINT "restores_scratch_source_fk" FOREIGN KEY ("team_id","scratch_source_id") REFERENCES "public"."sources"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restores" ADD CONSTRAINT "restores_safety_backup_fk" FOREIGN KEY ("team_id","safety_backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backups_trash_idx" ON "backups" USING btree ("team_id","trashed_at") WHERE trashed_at is not null;--> statement-breakpoint
-- The JSON lists become rows (ids of sources or destinations deleted since are left out).
INSERT INTO "backup_sources" ("team_id", "backup_id", "source_id") SELECT b."team_id", b."id", s."id" FROM "backups" b CROSS JOIN LATERAL jsonb_array_elements_text(b."source_ids") AS x(id) JOIN "sources" s ON s."team_id" = b."team_id" AND s."id" = x.id ON CONFLICT DO NOTHING;--> statement-breakpoint
INSERT INTO "backup_destinations" ("team_id", "backup_id", "destination_id") SELECT b."team_id", b."id", d."id" FROM "backups" b CROSS JOIN LATERAL jsonb_array_elements_text(b."destination_ids") AS x(id) JOIN "storage_destinations" d ON d."team_id" = b."team_id" AND d."id" = x.id ON CONFLICT DO NOTHING;--> statement-breakpoint
ALTER TABLE "backups" DROP COLUMN "source_ids";--> statement-breakpoint
ALTER TABLE "backups" DROP COLUMN "destination_ids";
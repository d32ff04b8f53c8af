ALTER TABLE "backups" ADD COLUMN "verify" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verify_source_id" text;--> statement-breakpoint
UPDATE "backups" SET "verify" = "schedules"."verify" FROM "schedules" WHERE "backups"."schedule_id" = "schedules"."id" AND "backups"."trigger" = 'schedule';

ALTER TABLE "backups" ADD COLUMN "attempt_started_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "restores" ADD COLUMN "attempt_started_at" timestamp (3) with time zone;
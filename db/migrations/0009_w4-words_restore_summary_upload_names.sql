ALTER TABLE "backups" ADD COLUMN "uploaded_name" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "archived_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "restores" ADD COLUMN "restored" jsonb;
CREATE TYPE "public"."compression" AS ENUM('fast', 'balanced', 'small');--> statement-breakpoint
ALTER TABLE "servers" ADD COLUMN "gzip_tool" text;--> statement-breakpoint
ALTER TABLE "servers" ADD COLUMN "package_manager" text;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "compression" "compression" DEFAULT 'fast' NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "compression" "compression" DEFAULT 'fast' NOT NULL;
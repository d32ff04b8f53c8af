CREATE TYPE "public"."compression" AS ENUM('fast', 'balanced', 'small');--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "compression" "compression" DEFAULT 'fast' NOT NULL;
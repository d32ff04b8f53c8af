ALTER TABLE "api_tokens" ADD COLUMN "rate_tokens" double precision;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "rate_checked_at" timestamp (3) with time zone;
CREATE TYPE "public"."encryption" AS ENUM('coffer', 'openpgp');--> statement-breakpoint
ALTER TYPE "public"."backup_trigger" ADD VALUE 'import';--> statement-breakpoint
CREATE TABLE "former_team_ids" (
	"former_id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"claimed_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_idempotency_keys" (
	"team_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"backup_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_idempotency_keys_team_id_key_pk" PRIMARY KEY("team_id","key")
);
--> statement-breakpoint
CREATE TABLE "workflow_instances" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"seen_at" timestamp (3) with time zone NOT NULL,
	"stopped_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "workflow_keys" (
	"key" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workflow_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"function_id" text NOT NULL,
	"event" jsonb NOT NULL,
	"subject" text,
	"concurrency_keys" text[] NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"steps" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"failure" jsonb,
	"available_at" timestamp (3) with time zone NOT NULL,
	"claimed_by" text
);
--> statement-breakpoint
CREATE TABLE "team_openpgp_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"fingerprint" text NOT NULL,
	"user_ids" text[] NOT NULL,
	"algorithm" text NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"armored" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "team_openpgp_keys_team_id_key" UNIQUE("team_id","id"),
	CONSTRAINT "team_openpgp_keys_fingerprint_key" UNIQUE("team_id","fingerprint")
);
--> statement-breakpoint
DROP INDEX "audit_events_team_time_idx";--> statement-breakpoint
DROP INDEX "backups_team_time_idx";--> statement-breakpoint
DROP INDEX "restores_backup_idx";--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "encryption" "encryption" DEFAULT 'coffer' NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "encryption" "encryption" DEFAULT 'coffer' NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "header_team_id" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "reserved_bytes" bigint;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verify" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verify_source_id" text;--> statement-breakpoint
ALTER TABLE "restores" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "former_team_ids" ADD CONSTRAINT "former_team_ids_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_idempotency_keys" ADD CONSTRAINT "api_idempotency_keys_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_idempotency_keys" ADD CONSTRAINT "api_idempotency_keys_backup_fk" FOREIGN KEY ("team_id","backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "team_openpgp_keys" ADD CONSTRAINT "team_openpgp_keys_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "workflow_runs_status_available_idx" ON "workflow_runs" USING btree ("status","available_at");--> statement-breakpoint
CREATE INDEX "workflow_runs_subject_idx" ON "workflow_runs" USING btree ("subject");--> statement-breakpoint
CREATE INDEX "team_openpgp_keys_team_idx" ON "team_openpgp_keys" USING btree ("team_id","created_at");--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_verify_source_fk" FOREIGN KEY ("team_id","verify_source_id") REFERENCES "public"."sources"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backup_locations_backup_idx" ON "backup_locations" USING btree ("team_id","backup_id");--> statement-breakpoint
CREATE INDEX "backups_server_time_idx" ON "backups" USING btree ("team_id","server_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "audit_events_team_time_idx" ON "audit_events" USING btree ("team_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "backups_team_time_idx" ON "backups" USING btree ("team_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "restores_backup_idx" ON "restores" USING btree ("team_id","backup_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
UPDATE "backups" SET "verify" = "schedules"."verify" FROM "schedules" WHERE "backups"."schedule_id" = "schedules"."id" AND "backups"."trigger" = 'schedule';

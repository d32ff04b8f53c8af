CREATE TYPE "public"."restore_kind" AS ENUM('database', 'directory', 'verify');--> statement-breakpoint
CREATE TYPE "public"."restore_status" AS ENUM('queued', 'running', 'succeeded', 'failed', 'cancelled');--> statement-breakpoint
ALTER TYPE "public"."backup_trigger" ADD VALUE 'safety';--> statement-breakpoint
CREATE TABLE "restore_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"restore_id" text NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "restores" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"backup_id" text NOT NULL,
	"kind" "restore_kind" NOT NULL,
	"status" "restore_status" DEFAULT 'queued' NOT NULL,
	"server_id" text NOT NULL,
	"connection_source_id" text,
	"members" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"target_database" text,
	"target_path" text,
	"mode" text,
	"scratch_database" text,
	"scratch_source_id" text,
	"scratch_dropped_at" timestamp (3) with time zone,
	"swap_started_at" timestamp (3) with time zone,
	"safety_backup_id" text,
	"requested_by" text,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"heartbeat_at" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"bytes_done" bigint DEFAULT 0 NOT NULL,
	"total_bytes" bigint,
	"result" jsonb,
	"error" text,
	"cancel_requested_at" timestamp (3) with time zone,
	"cancel_requested_by" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "restores_team_id_key" UNIQUE("team_id","id")
);
--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "verify" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "verify_source_id" text;--> statement-breakpoint
ALTER TABLE "backup_locations" ADD COLUMN "retrieval_requested_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "backup_locations" ADD COLUMN "retrieval_ready_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verified_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verification" jsonb;--> statement-breakpoint
ALTER TABLE "restore_logs" ADD CONSTRAINT "restore_logs_restore_fk" FOREIGN KEY ("team_id","restore_id") REFERENCES "public"."restores"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restores" ADD CONSTRAINT "restores_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restores" ADD CONSTRAINT "restores_backup_fk" FOREIGN KEY ("team_id","backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restores" ADD CONSTRAINT "restores_server_fk" FOREIGN KEY ("team_id","server_id") REFERENCES "public"."servers"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "restore_logs_restore_idx" ON "restore_logs" USING btree ("restore_id","id");--> statement-breakpoint
CREATE INDEX "restores_backup_idx" ON "restores" USING btree ("team_id","backup_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "restores_active_idx" ON "restores" USING btree ("status","heartbeat_at") WHERE status in ('queued', 'running') or (scratch_database is not null and scratch_dropped_at is null);--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_verify_source_fk" FOREIGN KEY ("verify_source_id") REFERENCES "public"."sources"("id") ON DELETE set null ON UPDATE no action;
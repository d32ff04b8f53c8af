CREATE TYPE "public"."backup_status" AS ENUM('queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired');--> statement-breakpoint
CREATE TYPE "public"."backup_trigger" AS ENUM('manual', 'schedule', 'api', 'upload');--> statement-breakpoint
CREATE TYPE "public"."backup_location_status" AS ENUM('writing', 'stored', 'failed', 'deleted');--> statement-breakpoint
CREATE TABLE "backup_locations" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"backup_id" text NOT NULL,
	"destination_id" text NOT NULL,
	"object_key" text NOT NULL,
	"status" "backup_location_status" DEFAULT 'writing' NOT NULL,
	"size_bytes" bigint,
	"sha256" text,
	"storage_class" text,
	"error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backup_locations_backup_destination_key" UNIQUE("backup_id","destination_id")
);
--> statement-breakpoint
CREATE TABLE "backup_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"backup_id" text NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backups" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"server_id" text NOT NULL,
	"schedule_id" text,
	"scheduled_for" timestamp (3) with time zone,
	"trigger" "backup_trigger" NOT NULL,
	"status" "backup_status" DEFAULT 'queued' NOT NULL,
	"encrypted" boolean NOT NULL,
	"source_ids" jsonb NOT NULL,
	"destination_ids" jsonb NOT NULL,
	"requested_by" text,
	"file_name" text NOT NULL,
	"dek_wrapped" text,
	"dek_key_id" text,
	"header_key_id" text,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"heartbeat_at" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"bytes_done" bigint DEFAULT 0 NOT NULL,
	"size_bytes" bigint,
	"sha256" text,
	"archive_bytes" bigint,
	"manifest" jsonb,
	"error" text,
	"reading_until" timestamp (3) with time zone,
	"tier" text,
	"expired_at" timestamp (3) with time zone,
	"expired_reason" text,
	"cancel_requested_at" timestamp (3) with time zone,
	"cancel_requested_by" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backups_team_id_key" UNIQUE("team_id","id"),
	CONSTRAINT "backups_schedule_slot_key" UNIQUE("schedule_id","scheduled_for")
);
--> statement-breakpoint
ALTER TABLE "teams" ADD COLUMN "default_retention" jsonb DEFAULT '{"keepAll":true,"last":0,"daily":7,"weekly":4,"monthly":6,"yearly":0}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "storage_destinations" ADD COLUMN "prices" jsonb;--> statement-breakpoint
ALTER TABLE "schedules" ADD COLUMN "retention" jsonb DEFAULT '{"keepAll":false,"last":0,"daily":7,"weekly":4,"monthly":6,"yearly":0}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "backup_locations" ADD CONSTRAINT "backup_locations_backup_fk" FOREIGN KEY ("team_id","backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_locations" ADD CONSTRAINT "backup_locations_destination_fk" FOREIGN KEY ("team_id","destination_id") REFERENCES "public"."storage_destinations"("team_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_logs" ADD CONSTRAINT "backup_logs_backup_fk" FOREIGN KEY ("team_id","backup_id") REFERENCES "public"."backups"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_server_fk" FOREIGN KEY ("team_id","server_id") REFERENCES "public"."servers"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_schedule_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."schedules"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backup_locations_destination_idx" ON "backup_locations" USING btree ("team_id","destination_id");--> statement-breakpoint
CREATE INDEX "backup_logs_backup_idx" ON "backup_logs" USING btree ("backup_id","id");--> statement-breakpoint
CREATE INDEX "backups_team_time_idx" ON "backups" USING btree ("team_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "backups_active_idx" ON "backups" USING btree ("status","heartbeat_at") WHERE status in ('queued', 'running');
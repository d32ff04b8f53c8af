ALTER TYPE "public"."backup_trigger" ADD VALUE 'import';--> statement-breakpoint
CREATE TABLE "former_team_ids" (
	"former_id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"claimed_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
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
ALTER TABLE "backups" ADD COLUMN "header_team_id" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "reserved_bytes" bigint;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verify" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "verify_source_id" text;--> statement-breakpoint
ALTER TABLE "restores" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "former_team_ids" ADD CONSTRAINT "former_team_ids_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "workflow_runs_status_available_idx" ON "workflow_runs" USING btree ("status","available_at");--> statement-breakpoint
CREATE INDEX "workflow_runs_subject_idx" ON "workflow_runs" USING btree ("subject");--> statement-breakpoint
UPDATE "backups" SET "verify" = "schedules"."verify" FROM "schedules" WHERE "backups"."schedule_id" = "schedules"."id" AND "backups"."trigger" = 'schedule';

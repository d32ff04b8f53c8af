ALTER TYPE "public"."backup_trigger" ADD VALUE 'import';--> statement-breakpoint
CREATE TABLE "former_team_ids" (
	"former_id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"claimed_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "header_team_id" text;--> statement-breakpoint
ALTER TABLE "former_team_ids" ADD CONSTRAINT "former_team_ids_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;
CREATE TYPE "public"."encryption" AS ENUM('coffer', 'openpgp');--> statement-breakpoint
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
ALTER TABLE "schedules" ADD COLUMN "encryption" "encryption" DEFAULT 'coffer' NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD COLUMN "encryption" "encryption" DEFAULT 'coffer' NOT NULL;--> statement-breakpoint
ALTER TABLE "team_openpgp_keys" ADD CONSTRAINT "team_openpgp_keys_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "team_openpgp_keys_team_idx" ON "team_openpgp_keys" USING btree ("team_id","created_at");
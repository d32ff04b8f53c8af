CREATE TYPE "public"."server_kind" AS ENUM('ssh', 'local');--> statement-breakpoint
CREATE TYPE "public"."source_kind" AS ENUM('postgres', 'directory');--> statement-breakpoint
CREATE TYPE "public"."destination_kind" AS ENUM('local', 'server', 's3', 'gcs', 'azure');--> statement-breakpoint
CREATE TABLE "servers" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" "server_kind" NOT NULL,
	"host" text,
	"port" integer,
	"username" text,
	"private_key_enc" text,
	"passphrase_enc" text,
	"password_enc" text,
	"host_key" text,
	"offered_host_key" text,
	"work_dir" text DEFAULT '/var/tmp' NOT NULL,
	"checked_at" timestamp (3) with time zone,
	"check_ok" boolean,
	"check_message" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "servers_team_id_key" UNIQUE("team_id","id"),
	CONSTRAINT "servers_team_name_key" UNIQUE("team_id","name")
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"server_id" text NOT NULL,
	"kind" "source_kind" NOT NULL,
	"name" text NOT NULL,
	"pg_host" text,
	"pg_port" integer,
	"pg_database" text,
	"pg_user" text,
	"pg_password_enc" text,
	"pg_sslmode" text,
	"paths" jsonb,
	"excludes" jsonb,
	"checked_at" timestamp (3) with time zone,
	"check_ok" boolean,
	"check_message" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sources_team_id_key" UNIQUE("team_id","id"),
	CONSTRAINT "sources_server_name_key" UNIQUE("server_id","name")
);
--> statement-breakpoint
CREATE TABLE "storage_destinations" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" "destination_kind" NOT NULL,
	"settings" jsonb NOT NULL,
	"credentials_enc" text,
	"server_id" text,
	"class_daily" text,
	"class_weekly" text,
	"class_monthly" text,
	"checked_at" timestamp (3) with time zone,
	"check_ok" boolean,
	"check_message" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "storage_destinations_team_id_key" UNIQUE("team_id","id"),
	CONSTRAINT "storage_destinations_team_name_key" UNIQUE("team_id","name")
);
--> statement-breakpoint
ALTER TABLE "servers" ADD CONSTRAINT "servers_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_server_fk" FOREIGN KEY ("team_id","server_id") REFERENCES "public"."servers"("team_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storage_destinations" ADD CONSTRAINT "storage_destinations_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storage_destinations" ADD CONSTRAINT "storage_destinations_server_fk" FOREIGN KEY ("team_id","server_id") REFERENCES "public"."servers"("team_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sources_server_idx" ON "sources" USING btree ("team_id","server_id");
ALTER TYPE "public"."source_kind" ADD VALUE 'postgres_cluster';--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "pg_role_passwords" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "restores" ADD COLUMN "with_globals" boolean DEFAULT false NOT NULL;
CREATE TABLE "master_key_checks" (
	"key_id" text PRIMARY KEY NOT NULL,
	"check" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);

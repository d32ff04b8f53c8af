DROP INDEX "restores_backup_idx";--> statement-breakpoint
CREATE INDEX "backups_server_time_idx" ON "backups" USING btree ("team_id","server_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "restores_backup_idx" ON "restores" USING btree ("team_id","backup_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);
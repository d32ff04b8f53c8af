DROP INDEX "audit_events_team_time_idx";--> statement-breakpoint
DROP INDEX "backups_team_time_idx";--> statement-breakpoint
DROP INDEX "restores_backup_idx";--> statement-breakpoint
CREATE INDEX "backup_locations_backup_idx" ON "backup_locations" USING btree ("team_id","backup_id");--> statement-breakpoint
CREATE INDEX "backups_server_time_idx" ON "backups" USING btree ("team_id","server_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "audit_events_team_time_idx" ON "audit_events" USING btree ("team_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "backups_team_time_idx" ON "backups" USING btree ("team_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "restores_backup_idx" ON "restores" USING btree ("team_id","backup_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);
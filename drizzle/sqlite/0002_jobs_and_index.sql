CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
ALTER TABLE `documents` ADD `source_mtime_ms` integer;--> statement-breakpoint
ALTER TABLE `job_files` ADD `action` text DEFAULT 'ingest' NOT NULL;--> statement-breakpoint
ALTER TABLE `job_files` ADD `finished_at` text;--> statement-breakpoint
CREATE INDEX `job_files_status` ON `job_files` (`job_id`,`status`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `phase` text;
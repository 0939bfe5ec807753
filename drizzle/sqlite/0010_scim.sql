CREATE TABLE `scim_resources` (
	`source` text NOT NULL,
	`id` text NOT NULL,
	`resource_type` text NOT NULL,
	`principal` text NOT NULL,
	`name_key` text NOT NULL,
	`external_id` text,
	`attributes` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`source`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scim_resources_name` ON `scim_resources` (`source`,`resource_type`,`name_key`);--> statement-breakpoint
CREATE INDEX `scim_resources_external` ON `scim_resources` (`source`,`resource_type`,`external_id`);--> statement-breakpoint
CREATE TABLE `scim_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`token_hash` text NOT NULL,
	`name` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`expires_at` text,
	`revoked_at` text,
	`last_used_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scim_tokens_hash` ON `scim_tokens` (`token_hash`);
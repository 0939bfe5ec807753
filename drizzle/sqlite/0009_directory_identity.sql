PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_group_members` (
	`group_name` text NOT NULL,
	`member_kind` text NOT NULL,
	`member_name` text NOT NULL,
	`origin` text DEFAULT 'manual' NOT NULL,
	PRIMARY KEY(`group_name`, `member_kind`, `member_name`, `origin`),
	FOREIGN KEY (`group_name`) REFERENCES `groups`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_group_members`("group_name", "member_kind", "member_name", "origin") SELECT "group_name", "member_kind", "member_name", 'manual' FROM `group_members`;--> statement-breakpoint
DROP TABLE `group_members`;--> statement-breakpoint
ALTER TABLE `__new_group_members` RENAME TO `group_members`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `group_members_member` ON `group_members` (`member_kind`,`member_name`);--> statement-breakpoint
ALTER TABLE `groups` ADD `source` text DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE `groups` ADD `external_id` text;--> statement-breakpoint
ALTER TABLE `groups` ADD `display_name` text;--> statement-breakpoint
CREATE UNIQUE INDEX `groups_external` ON `groups` (`source`,`external_id`);--> statement-breakpoint
ALTER TABLE `users` ADD `source` text DEFAULT 'local' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `external_id` text;--> statement-breakpoint
ALTER TABLE `users` ADD `display_name` text;--> statement-breakpoint
ALTER TABLE `users` ADD `email` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_external` ON `users` (`source`,`external_id`);
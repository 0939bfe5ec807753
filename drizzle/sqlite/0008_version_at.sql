ALTER TABLE `documents` ADD `version_at` text;--> statement-breakpoint
-- Backfill (hand-written): the best date known for an existing live version is the row's last update.
UPDATE `documents` SET `version_at` = `updated_at` WHERE `version` > 0;

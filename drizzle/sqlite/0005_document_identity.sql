DROP INDEX `documents_source`;--> statement-breakpoint
ALTER TABLE `documents` ADD `identity_scope` text;--> statement-breakpoint
ALTER TABLE `documents` ADD `identity_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `documents_identity` ON `documents` (`identity_scope`,`identity_key`);--> statement-breakpoint
CREATE INDEX `documents_source` ON `documents` (`source`);--> statement-breakpoint
-- Hand-written backfill (v0.1 data folders). Documents a folder sync created or adopted are the
-- ones whose source lies under a folder some sync job was given (the longest such folder wins):
-- identity (sync:<folder>, path relative to it), so the sync keeps updating and deleting them.
UPDATE `documents` SET `identity_scope` = 'sync:' || (
  SELECT `f` FROM (SELECT DISTINCT json_extract(`params`, '$.folder') AS `f` FROM `jobs` WHERE `kind` = 'sync')
  WHERE `f` IS NOT NULL AND substr(`documents`.`source`, 1, length(`f`) + 1) = `f` || '/'
  ORDER BY length(`f`) DESC LIMIT 1
);--> statement-breakpoint
UPDATE `documents` SET `identity_key` = substr(`source`, length(`identity_scope`) - length('sync:') + 2) WHERE `identity_scope` IS NOT NULL;--> statement-breakpoint
-- Every other document belongs to its owner's names (the operator's: owner:system), under its source as before.
UPDATE `documents` SET `identity_scope` = 'owner:' || coalesce(`owner`, 'system'), `identity_key` = `source` WHERE `identity_scope` IS NULL;

CREATE TABLE `sensitive_spans` (
	`document_id` text NOT NULL,
	`chunk_id` text NOT NULL,
	`kind` text NOT NULL,
	`start` integer NOT NULL,
	`end` integer NOT NULL,
	PRIMARY KEY(`chunk_id`, `start`),
	FOREIGN KEY (`document_id`) REFERENCES `documents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sensitive_spans_document` ON `sensitive_spans` (`document_id`,`kind`);--> statement-breakpoint
ALTER TABLE `documents` ADD `acl_manage` text DEFAULT '[]' NOT NULL;
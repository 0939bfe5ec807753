CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`minute` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`prev_count` integer DEFAULT 0 NOT NULL,
	`allowed` integer DEFAULT true NOT NULL
);

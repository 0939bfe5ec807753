CREATE TABLE `answer_feedback` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`user_name` text NOT NULL,
	`conversation_id` text NOT NULL,
	`message_id` integer NOT NULL,
	`rating` text NOT NULL,
	`comment` text,
	`question` text NOT NULL,
	`answer` text NOT NULL,
	`sources` text NOT NULL,
	`reviewed_at` text,
	`reviewed_by` text,
	`expected_document_ids` text,
	`expected_answer` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `answer_feedback_user_message` ON `answer_feedback` (`user_id`,`message_id`);--> statement-breakpoint
CREATE INDEX `answer_feedback_review` ON `answer_feedback` (`rating`,`updated_at`);--> statement-breakpoint
CREATE INDEX `answer_feedback_conversation` ON `answer_feedback` (`conversation_id`);--> statement-breakpoint
-- Hand-written (drizzle-kit does not model triggers): a deleted user's feedback goes with them, as their conversations do (0003).
CREATE TRIGGER `answer_feedback_user_deleted` AFTER DELETE ON `users` BEGIN DELETE FROM `answer_feedback` WHERE `user_id` = OLD.`id`; END;
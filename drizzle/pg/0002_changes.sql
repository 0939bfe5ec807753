CREATE TABLE "changes" (
	"topic" text PRIMARY KEY NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"payload" jsonb,
	"updated_at" text DEFAULT (to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) NOT NULL
);

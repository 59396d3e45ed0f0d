CREATE TABLE `pricing_overrides` (
	`model` text PRIMARY KEY NOT NULL,
	`input` real NOT NULL,
	`output` real NOT NULL,
	`cache_read` real,
	`cache_write` real,
	`reasoning` real,
	`updated_at` integer NOT NULL,
	`updated_by` text
);

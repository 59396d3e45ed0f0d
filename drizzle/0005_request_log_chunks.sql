CREATE TABLE `request_chunk_terms` (
	`chunk` integer NOT NULL,
	`term` text NOT NULL,
	PRIMARY KEY(`chunk`, `term`)
);
--> statement-breakpoint
CREATE INDEX `request_chunk_terms_term_idx` ON `request_chunk_terms` (`term`,`chunk`);--> statement-breakpoint
CREATE TABLE `request_chunks` (
	`id` integer PRIMARY KEY NOT NULL,
	`first_id` text NOT NULL,
	`last_id` text NOT NULL,
	`rows` integer NOT NULL,
	`format` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE INDEX `request_chunks_last_id_idx` ON `request_chunks` (`last_id`);--> statement-breakpoint
CREATE TABLE `request_unpriced` (
	`bucket` integer NOT NULL,
	`provider` text NOT NULL,
	`provider_type` text NOT NULL,
	`model` text NOT NULL,
	`requests` integer NOT NULL,
	`last_seen` integer NOT NULL,
	PRIMARY KEY(`bucket`, `provider`, `provider_type`, `model`)
);

-- The request log as a WITHOUT ROWID table clustered on its time-ordered id: one b-tree instead of
-- a rowid table plus a separate primary-key index. Each logged row is written once less (the log
-- file is about a third smaller) and the writer's commits are cheaper. Existing rows are copied in
-- id order; the secondary indexes are recreated as they were.
CREATE TABLE `requests_new` (
	`id` text PRIMARY KEY NOT NULL,
	`received_at` integer NOT NULL,
	`first_byte_at` integer,
	`finished_at` integer NOT NULL,
	`client_key_id` text,
	`endpoint` text NOT NULL,
	`requested_model` text,
	`provider` text,
	`provider_type` text,
	`upstream_model` text,
	`response_model` text,
	`pricing_entry` text,
	`pricing_rule` text,
	`attempts` text,
	`status` integer NOT NULL,
	`error_class` text,
	`error_message` text,
	`stream` integer NOT NULL,
	`input_tokens` integer,
	`cached_tokens` integer,
	`cache_write_tokens` integer,
	`output_tokens` integer,
	`reasoning_tokens` integer,
	`usage_estimated` integer DEFAULT false NOT NULL,
	`usage_raw` text,
	`cost_pico` integer,
	`cost_breakdown` text,
	`warnings` text,
	`latency_ms` integer NOT NULL,
	`ttfb_ms` integer,
	`client_ip` text,
	`user_agent` text,
	`project` text
) WITHOUT ROWID;--> statement-breakpoint
INSERT INTO `requests_new` SELECT * FROM `requests` ORDER BY `id`;--> statement-breakpoint
DROP TABLE `requests`;--> statement-breakpoint
ALTER TABLE `requests_new` RENAME TO `requests`;--> statement-breakpoint
CREATE INDEX `requests_key_idx` ON `requests` (`client_key_id`,`id`);--> statement-breakpoint
CREATE INDEX `requests_provider_idx` ON `requests` (`provider`,`id`);--> statement-breakpoint
CREATE INDEX `requests_model_idx` ON `requests` (`requested_model`,`id`);--> statement-breakpoint
CREATE INDEX `requests_project_idx` ON `requests` (`project`,`id`) WHERE "requests"."project" IS NOT NULL;

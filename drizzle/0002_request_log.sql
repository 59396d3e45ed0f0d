CREATE TABLE `request_bodies` (
	`id` text PRIMARY KEY NOT NULL,
	`request_gz` blob,
	`response_gz` blob
);
--> statement-breakpoint
CREATE TABLE `requests` (
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
	`user_agent` text
);
--> statement-breakpoint
CREATE INDEX `requests_key_idx` ON `requests` (`client_key_id`,`id`);--> statement-breakpoint
CREATE INDEX `requests_provider_idx` ON `requests` (`provider`,`id`);--> statement-breakpoint
CREATE INDEX `requests_model_idx` ON `requests` (`requested_model`,`id`);--> statement-breakpoint
CREATE INDEX `requests_received_idx` ON `requests` (`received_at`);--> statement-breakpoint
CREATE TABLE `rollup_hour` (
	`bucket` integer NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`client_key_id` text NOT NULL,
	`requests` integer NOT NULL,
	`errors` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`cached_tokens` integer NOT NULL,
	`cache_write_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`reasoning_tokens` integer NOT NULL,
	`cost_pico` integer NOT NULL,
	`unpriced` integer NOT NULL,
	`latency_sum_ms` integer NOT NULL,
	`latency_hist` text NOT NULL,
	`ttfb_hist` text NOT NULL,
	PRIMARY KEY(`bucket`, `provider`, `model`, `client_key_id`)
);
--> statement-breakpoint
CREATE TABLE `rollup_minute` (
	`bucket` integer NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`client_key_id` text NOT NULL,
	`requests` integer NOT NULL,
	`errors` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`cached_tokens` integer NOT NULL,
	`cache_write_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`reasoning_tokens` integer NOT NULL,
	`cost_pico` integer NOT NULL,
	`unpriced` integer NOT NULL,
	`latency_sum_ms` integer NOT NULL,
	`latency_hist` text NOT NULL,
	`ttfb_hist` text NOT NULL,
	PRIMARY KEY(`bucket`, `provider`, `model`, `client_key_id`)
);

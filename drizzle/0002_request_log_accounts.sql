CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`user_id` text,
	`username` text,
	`action` text NOT NULL,
	`target` text,
	`detail` text,
	`ip` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `managed_providers` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`base_url` text,
	`api_keys_sealed` text,
	`api_keys_last4` text,
	`models` text,
	`headers` text,
	`pricing_provider` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
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
--> statement-breakpoint
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
	`user_agent` text,
	`project` text
);
--> statement-breakpoint
CREATE INDEX `requests_project_idx` ON `requests` (`project`,`id`);--> statement-breakpoint
CREATE INDEX `requests_key_idx` ON `requests` (`client_key_id`,`id`);--> statement-breakpoint
CREATE INDEX `requests_provider_idx` ON `requests` (`provider`,`id`);--> statement-breakpoint
CREATE INDEX `requests_model_idx` ON `requests` (`requested_model`,`id`);--> statement-breakpoint
CREATE INDEX `requests_received_idx` ON `requests` (`received_at`);--> statement-breakpoint
CREATE TABLE `rollup_hour` (
	`bucket` integer NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`client_key_id` text NOT NULL,
	`project` text DEFAULT '' NOT NULL,
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
	`lat0` integer DEFAULT 0 NOT NULL,
	`ttfb0` integer DEFAULT 0 NOT NULL,
	`lat1` integer DEFAULT 0 NOT NULL,
	`ttfb1` integer DEFAULT 0 NOT NULL,
	`lat2` integer DEFAULT 0 NOT NULL,
	`ttfb2` integer DEFAULT 0 NOT NULL,
	`lat3` integer DEFAULT 0 NOT NULL,
	`ttfb3` integer DEFAULT 0 NOT NULL,
	`lat4` integer DEFAULT 0 NOT NULL,
	`ttfb4` integer DEFAULT 0 NOT NULL,
	`lat5` integer DEFAULT 0 NOT NULL,
	`ttfb5` integer DEFAULT 0 NOT NULL,
	`lat6` integer DEFAULT 0 NOT NULL,
	`ttfb6` integer DEFAULT 0 NOT NULL,
	`lat7` integer DEFAULT 0 NOT NULL,
	`ttfb7` integer DEFAULT 0 NOT NULL,
	`lat8` integer DEFAULT 0 NOT NULL,
	`ttfb8` integer DEFAULT 0 NOT NULL,
	`lat9` integer DEFAULT 0 NOT NULL,
	`ttfb9` integer DEFAULT 0 NOT NULL,
	`lat10` integer DEFAULT 0 NOT NULL,
	`ttfb10` integer DEFAULT 0 NOT NULL,
	`lat11` integer DEFAULT 0 NOT NULL,
	`ttfb11` integer DEFAULT 0 NOT NULL,
	`lat12` integer DEFAULT 0 NOT NULL,
	`ttfb12` integer DEFAULT 0 NOT NULL,
	`lat13` integer DEFAULT 0 NOT NULL,
	`ttfb13` integer DEFAULT 0 NOT NULL,
	`lat14` integer DEFAULT 0 NOT NULL,
	`ttfb14` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`bucket`, `provider`, `model`, `client_key_id`, `project`)
);
--> statement-breakpoint
CREATE TABLE `rollup_minute` (
	`bucket` integer NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`client_key_id` text NOT NULL,
	`project` text DEFAULT '' NOT NULL,
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
	`lat0` integer DEFAULT 0 NOT NULL,
	`ttfb0` integer DEFAULT 0 NOT NULL,
	`lat1` integer DEFAULT 0 NOT NULL,
	`ttfb1` integer DEFAULT 0 NOT NULL,
	`lat2` integer DEFAULT 0 NOT NULL,
	`ttfb2` integer DEFAULT 0 NOT NULL,
	`lat3` integer DEFAULT 0 NOT NULL,
	`ttfb3` integer DEFAULT 0 NOT NULL,
	`lat4` integer DEFAULT 0 NOT NULL,
	`ttfb4` integer DEFAULT 0 NOT NULL,
	`lat5` integer DEFAULT 0 NOT NULL,
	`ttfb5` integer DEFAULT 0 NOT NULL,
	`lat6` integer DEFAULT 0 NOT NULL,
	`ttfb6` integer DEFAULT 0 NOT NULL,
	`lat7` integer DEFAULT 0 NOT NULL,
	`ttfb7` integer DEFAULT 0 NOT NULL,
	`lat8` integer DEFAULT 0 NOT NULL,
	`ttfb8` integer DEFAULT 0 NOT NULL,
	`lat9` integer DEFAULT 0 NOT NULL,
	`ttfb9` integer DEFAULT 0 NOT NULL,
	`lat10` integer DEFAULT 0 NOT NULL,
	`ttfb10` integer DEFAULT 0 NOT NULL,
	`lat11` integer DEFAULT 0 NOT NULL,
	`ttfb11` integer DEFAULT 0 NOT NULL,
	`lat12` integer DEFAULT 0 NOT NULL,
	`ttfb12` integer DEFAULT 0 NOT NULL,
	`lat13` integer DEFAULT 0 NOT NULL,
	`ttfb13` integer DEFAULT 0 NOT NULL,
	`lat14` integer DEFAULT 0 NOT NULL,
	`ttfb14` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`bucket`, `provider`, `model`, `client_key_id`, `project`)
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`revoked_at` integer,
	`ip` text,
	`user_agent` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sessions_user_idx` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE TABLE `setup_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_unique` ON `users` (`username`);--> statement-breakpoint
ALTER TABLE `client_keys` ADD `enabled` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `allowed_models` text;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `budget_daily_pico` integer;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `budget_monthly_pico` integer;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `budget_total_pico` integer;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `rpm_limit` integer;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `tpm_limit` integer;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `store_bodies` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `client_keys` ADD `updated_at` integer;
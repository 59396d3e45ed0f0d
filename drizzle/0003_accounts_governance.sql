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
DROP INDEX `requests_received_idx`;--> statement-breakpoint
DROP INDEX `requests_project_idx`;--> statement-breakpoint
CREATE INDEX `requests_project_idx` ON `requests` (`project`,`id`) WHERE "requests"."project" IS NOT NULL;
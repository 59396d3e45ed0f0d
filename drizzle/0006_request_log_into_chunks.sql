-- Moves the rows of the one-row-per-request table into chunks of 256 rows, in id order, as plain
-- JSON text (format 0; the log writer's chunks are zstd-compressed, format 1, which SQL cannot
-- write), with each chunk's terms and the unpriced-model counts. The old table is dropped by the
-- next migration. Chunk ids are given explicitly (after any existing chunk) so the terms can name
-- them without a range join.
CREATE TEMP TABLE `request_chunk_move` AS
	SELECT `id`, `provider`, `requested_model`, `client_key_id`, `project`, `status`,
		(SELECT coalesce(max(`id`), 0) FROM `request_chunks`) + 1 + (row_number() OVER (ORDER BY `id`) - 1) / 256 AS `chunk`,
		json_array(`id`, `received_at`, `first_byte_at`, `finished_at`, `client_key_id`, `endpoint`, `requested_model`, `provider`, `provider_type`, `upstream_model`, `response_model`, `pricing_entry`, `pricing_rule`, `attempts`, `status`, `error_class`, `error_message`, `stream`, `input_tokens`, `cached_tokens`, `cache_write_tokens`, `output_tokens`, `reasoning_tokens`, `usage_estimated`, `usage_raw`, `cost_pico`, `cost_breakdown`, `warnings`, `latency_ms`, `ttfb_ms`, `client_ip`, `user_agent`, `project`) AS `j`
	FROM `requests`;
--> statement-breakpoint
INSERT INTO `request_chunks` (`id`, `first_id`, `last_id`, `rows`, `format`, `data`)
	SELECT `chunk`, min(`id`), max(`id`), count(*), 0, CAST(json_group_array(json(`j`) ORDER BY `id`) AS BLOB)
	FROM `request_chunk_move` GROUP BY `chunk` ORDER BY `chunk`;
--> statement-breakpoint
INSERT OR IGNORE INTO `request_chunk_terms` (`chunk`, `term`)
	SELECT `chunk`, 'p:' || `provider` FROM `request_chunk_move` WHERE `provider` IS NOT NULL
	UNION ALL SELECT `chunk`, 'm:' || `requested_model` FROM `request_chunk_move` WHERE `requested_model` IS NOT NULL
	UNION ALL SELECT `chunk`, 'k:' || `client_key_id` FROM `request_chunk_move` WHERE `client_key_id` IS NOT NULL
	UNION ALL SELECT `chunk`, 'j:' || `project` FROM `request_chunk_move` WHERE `project` IS NOT NULL
	UNION ALL SELECT `chunk`, CASE WHEN `status` >= 400 THEN 'e' ELSE 'o' END FROM `request_chunk_move` WHERE 1
	UNION ALL SELECT `chunk`, 'e:p:' || `provider` FROM `request_chunk_move` WHERE `status` >= 400 AND `provider` IS NOT NULL
	UNION ALL SELECT `chunk`, 'e:m:' || `requested_model` FROM `request_chunk_move` WHERE `status` >= 400 AND `requested_model` IS NOT NULL
	UNION ALL SELECT `chunk`, 'e:k:' || `client_key_id` FROM `request_chunk_move` WHERE `status` >= 400 AND `client_key_id` IS NOT NULL
	UNION ALL SELECT `chunk`, 'e:j:' || `project` FROM `request_chunk_move` WHERE `status` >= 400 AND `project` IS NOT NULL;
--> statement-breakpoint
INSERT INTO `request_unpriced` (`bucket`, `provider`, `provider_type`, `model`, `requests`, `last_seen`)
	SELECT `received_at` - `received_at` % 3600000, coalesce(`provider`, ''), coalesce(`provider_type`, ''),
		coalesce(`response_model`, `upstream_model`, ''), count(*), max(`received_at`)
	FROM `requests`
	WHERE `cost_pico` IS NULL AND `status` < 400 AND (`input_tokens` IS NOT NULL OR `output_tokens` IS NOT NULL)
	GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
DROP TABLE `request_chunk_move`;

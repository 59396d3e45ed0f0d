-- The request log's writer stores chunks as binary columns (format 3, src/db/log-chunk.ts), which
-- builds before this one cannot read. No table changes: this migration records the format, and its
-- presence makes an older build refuse to start on the database (an unknown migration) instead of
-- failing on the first read of a new chunk.
INSERT INTO `meta` (`key`, `value`, `updated_at`) VALUES ('request_log_chunk_format', '3', CAST(unixepoch('subsec') * 1000 AS INTEGER))
	ON CONFLICT (`key`) DO UPDATE SET `value` = excluded.`value`, `updated_at` = excluded.`updated_at`;

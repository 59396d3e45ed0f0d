-- From now on a client disconnect (status 499) with tokens and no price counts as unpriced in the
-- rollups and the unpriced-model list, like a success does (the upstream may bill it). Rows logged
-- before were counted without it; compressed chunks cannot be recounted in SQL, so the time this
-- migration ran is kept and the new rule applies to rows received from then on (a re-price of an
-- older row keeps its counts consistent with how they were made).
INSERT OR IGNORE INTO `meta` (`key`, `value`, `updated_at`)
	VALUES ('unpriced_disconnects_since', CAST(CAST(unixepoch('subsec') * 1000 AS INTEGER) AS TEXT), CAST(unixepoch('subsec') * 1000 AS INTEGER));

import type { Usage } from "../core/types.ts";
import { idLowerBound } from "./ids.ts";
import type { RequestLogStore, RequestRow } from "../db/request-log.ts";
import type { Pricer } from "./recorder.ts";

export type RecomputeReport = { scanned: number; changed: number; newlyPriced: number; unpriced: number; deltaPico: bigint };

function usageOf(row: RequestRow): Usage {
  return {
    inputTokens: row.input_tokens ?? undefined,
    cachedInputTokens: row.cached_tokens ?? undefined,
    cacheWriteInputTokens: row.cache_write_tokens ?? undefined,
    outputTokens: row.output_tokens ?? undefined,
    reasoningTokens: row.reasoning_tokens ?? undefined,
    raw: row.usage_raw ? JSON.parse(row.usage_raw) : undefined,
    estimated: row.usage_estimated === 1,
  };
}

/**
 * Re-prices stored rows received since `since` with the current registry and overrides (after a
 * price was added or corrected), and moves the rollups by the same amounts, in transactions of
 * `batch` rows. Rows whose price does not change are left alone.
 */
export function recomputeCosts(store: RequestLogStore, price: Pricer, since: number, batch = 1000): RecomputeReport {
  const report: RecomputeReport = { scanned: 0, changed: 0, newlyPriced: 0, unpriced: 0, deltaPico: 0n };
  const db = store.sqlite;
  const page = db.query(
    "SELECT *, CAST(cost_pico AS TEXT) AS cost_text FROM requests WHERE id >= ? AND id > ? AND status < 500 AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL) ORDER BY id LIMIT ?",
  );
  const update = db.query("UPDATE requests SET cost_pico = ?, cost_breakdown = ?, pricing_entry = ?, pricing_rule = ? WHERE id = ?");
  const rollup = (table: string) =>
    db.query(`UPDATE ${table} SET cost_pico = cost_pico + ?, unpriced = unpriced + ? WHERE bucket = ? AND provider = ? AND model = ? AND client_key_id = ? AND project = ?`);
  const rollups = [
    { stmt: rollup("rollup_minute"), size: 60_000 },
    { stmt: rollup("rollup_hour"), size: 3_600_000 },
  ];
  const apply = db.transaction((rows: Array<RequestRow & { cost_text: string | null }>) => {
    for (const row of rows) {
      report.scanned++;
      const priced = price({ providerType: row.provider_type ?? undefined, provider: row.provider ?? undefined, models: [row.response_model ?? undefined, row.upstream_model ?? undefined], usage: usageOf(row) });
      const before = row.cost_text === null ? null : BigInt(row.cost_text);
      const after = priced.costPico;
      if (after === null) report.unpriced++;
      if (before === after && (row.pricing_entry ?? null) === (priced.entry ?? null)) continue;
      update.run(after, priced.breakdown !== undefined ? JSON.stringify(priced.breakdown) : null, priced.entry ?? null, priced.rule ?? null, row.id);
      report.changed++;
      if (before === null && after !== null) report.newlyPriced++;
      const delta = (after ?? 0n) - (before ?? 0n);
      report.deltaPico += delta;
      // Rollups count a row as unpriced when it succeeded with tokens and had no price.
      const unpricedDelta = (after === null ? 1 : 0) - (before === null ? 1 : 0);
      for (const { stmt, size } of rollups) {
        const bucket = row.received_at - (row.received_at % size);
        stmt.run(delta, row.status < 400 ? unpricedDelta : 0, bucket, row.provider ?? "", row.upstream_model ?? row.requested_model ?? "", row.client_key_id ?? "", row.project ?? "");
      }
    }
  });
  let cursor = "";
  for (;;) {
    const rows = page.all(idLowerBound(since), cursor, batch) as Array<RequestRow & { cost_text: string | null }>;
    if (!rows.length) break;
    apply(rows);
    cursor = rows[rows.length - 1]!.id;
  }
  return report;
}

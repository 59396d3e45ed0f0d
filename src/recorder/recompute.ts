import type { Usage } from "../core/types.ts";
import { idLowerBound } from "./ids.ts";
import { CHUNK_ROWS, isUnpriced, rollupUnpriced, UnpricedDeltas, type RequestLogStore, type RequestRow } from "../db/request-log.ts";
import { isPricedOutcome, type Pricer } from "./recorder.ts";

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
 * price was added or corrected), and moves the rollups and unpriced counts by the same amounts, a
 * few chunks (about `batch` rows) per transaction. Chunks where no price changes are left alone.
 */
export function recomputeCosts(store: RequestLogStore, price: Pricer, since: number, batch = 1000): RecomputeReport {
  const report: RecomputeReport = { scanned: 0, changed: 0, newlyPriced: 0, unpriced: 0, deltaPico: 0n };
  const db = store.sqlite;
  const lower = idLowerBound(since);
  const rollup = (table: string) =>
    db.query(`UPDATE ${table} SET cost_pico = cost_pico + ?, unpriced = unpriced + ? WHERE bucket = ? AND provider = ? AND model = ? AND client_key_id = ? AND project = ?`);
  const rollups = [
    { stmt: rollup("rollup_minute"), size: 60_000 },
    { stmt: rollup("rollup_hour"), size: 3_600_000 },
  ];
  const apply = db.transaction((chunks: Array<{ id: number; rows: RequestRow[] }>) => {
    const unpricedCounts = new UnpricedDeltas();
    for (const chunk of chunks) {
      let changed = false;
      for (const row of chunk.rows) {
        if (row.id < lower || !isPricedOutcome(row.status, row.error_class) || (row.input_tokens === null && row.output_tokens === null)) continue;
        report.scanned++;
        const priced = price({ providerType: row.provider_type ?? undefined, provider: row.provider ?? undefined, models: [row.response_model ?? undefined, row.upstream_model ?? undefined], usage: usageOf(row) });
        const before = row.cost_pico === null ? null : BigInt(row.cost_pico);
        const after = priced.costPico;
        if (after === null) report.unpriced++;
        if (before === after && (row.pricing_entry ?? null) === (priced.entry ?? null)) continue;
        const since = store.disconnectsSince;
        const wasUnpriced = isUnpriced(row, since);
        const wasRollupUnpriced = rollupUnpriced(row, since);
        row.cost_pico = after;
        row.cost_breakdown = priced.breakdown !== undefined ? JSON.stringify(priced.breakdown) : null;
        row.pricing_entry = priced.entry ?? null;
        row.pricing_rule = priced.rule ?? null;
        changed = true;
        report.changed++;
        if (before === null && after !== null) report.newlyPriced++;
        const delta = (after ?? 0n) - (before ?? 0n);
        report.deltaPico += delta;
        if (wasUnpriced !== isUnpriced(row, since)) unpricedCounts.add(row, wasUnpriced ? -1 : 1);
        // The rollups' unpriced count moves by the rule it was counted with (rollupUnpriced).
        const unpricedDelta = (rollupUnpriced(row, since) ? 1 : 0) - (wasRollupUnpriced ? 1 : 0);
        for (const { stmt, size } of rollups) {
          const bucket = row.received_at - (row.received_at % size);
          stmt.run(delta, unpricedDelta, bucket, row.provider ?? "", row.upstream_model ?? row.requested_model ?? "", row.client_key_id ?? "", row.project ?? "");
        }
      }
      if (changed) store.rewriteChunk(chunk.id, chunk.rows);
    }
    store.addUnpricedCounts(unpricedCounts);
  });
  const perTransaction = Math.max(1, Math.ceil(batch / CHUNK_ROWS));
  let after = 0;
  for (;;) {
    const chunks = store.chunksSince(since, after, perTransaction);
    if (!chunks.length) break;
    apply(chunks);
    after = chunks[chunks.length - 1]!.id;
  }
  return report;
}

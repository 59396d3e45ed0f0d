import { eq } from "drizzle-orm";
import type { PricingOverride, PricingOverrides } from "../pricing/schema.ts";
import type { Db } from "./client.ts";
import { pricingOverrides } from "./schema.ts";

/** Dashboard-set price overrides, as the pricing registry takes them. */
export function loadPricingOverrides(db: Db): PricingOverrides {
  const out: PricingOverrides = {};
  for (const r of db.select().from(pricingOverrides).all()) {
    out[r.model] = {
      input: r.input,
      output: r.output,
      ...(r.cacheRead !== null ? { cache_read: r.cacheRead } : {}),
      ...(r.cacheWrite !== null ? { cache_write: r.cacheWrite } : {}),
      ...(r.reasoning !== null ? { reasoning: r.reasoning } : {}),
    };
  }
  return out;
}

export function savePricingOverride(db: Db, model: string, price: PricingOverride, by: string | null): void {
  const row = {
    model,
    input: price.input,
    output: price.output,
    cacheRead: price.cache_read ?? null,
    cacheWrite: price.cache_write ?? null,
    reasoning: price.reasoning ?? null,
    updatedAt: Date.now(),
    updatedBy: by,
  };
  db.insert(pricingOverrides).values(row).onConflictDoUpdate({ target: pricingOverrides.model, set: row }).run();
}

export function deletePricingOverride(db: Db, model: string): boolean {
  return db.delete(pricingOverrides).where(eq(pricingOverrides.model, model)).returning({ m: pricingOverrides.model }).all().length > 0;
}

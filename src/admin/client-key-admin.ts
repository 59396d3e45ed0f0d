import { z } from "zod";
import { createClientKey } from "../auth/client-keys.ts";
import type { Db } from "../db/client.ts";
import { getClientKey, listClientKeys, revokeClientKey, updateClientKey, type ClientKeyRow } from "../db/client-keys.ts";
import { ClientError } from "../errors.ts";

const PICO_PER_USD = 1_000_000_000_000;
/**
 * Budgets in USD with micro-dollar precision; null clears the budget. The cap keeps the pico-USD
 * value an exact float (a multiple of 10^6 below 2^59), so budgets compare exactly with costs.
 */
const usd = z.number().min(0).max(500_000).nullable();

/** Settings of a client key in the admin API (all optional on update; null clears a limit). */
export const clientKeySettingsSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  enabled: z.boolean(),
  expires_at: z.iso.datetime({ offset: true }).nullable(),
  allowed_models: z.array(z.string().min(1)).max(500).nullable(),
  budget_daily_usd: usd,
  budget_monthly_usd: usd,
  budget_total_usd: usd,
  rpm_limit: z.number().int().min(1).nullable(),
  tpm_limit: z.number().int().min(1).nullable(),
  store_bodies: z.boolean(),
});
export const clientKeyCreateSchema = clientKeySettingsSchema.partial().required({ name: true });
export const clientKeyPatchSchema = clientKeySettingsSchema.partial();
export type ClientKeySettings = z.infer<typeof clientKeyPatchSchema>;

const toPico = (v: number | null | undefined) => (v === undefined ? undefined : v === null ? null : Math.round(v * 1_000_000) * 1_000_000);
const toUsd = (pico: number | null) => (pico === null ? null : pico / PICO_PER_USD);

function columns(s: ClientKeySettings): Partial<ClientKeyRow> {
  const out: Partial<ClientKeyRow> = {};
  if (s.name !== undefined) out.name = s.name;
  if (s.enabled !== undefined) out.enabled = s.enabled;
  if (s.expires_at !== undefined) out.expiresAt = s.expires_at === null ? null : Date.parse(s.expires_at);
  if (s.allowed_models !== undefined) out.allowedModels = s.allowed_models === null ? null : JSON.stringify(s.allowed_models);
  if (s.budget_daily_usd !== undefined) out.budgetDailyPico = toPico(s.budget_daily_usd)!;
  if (s.budget_monthly_usd !== undefined) out.budgetMonthlyPico = toPico(s.budget_monthly_usd)!;
  if (s.budget_total_usd !== undefined) out.budgetTotalPico = toPico(s.budget_total_usd)!;
  if (s.rpm_limit !== undefined) out.rpmLimit = s.rpm_limit;
  if (s.tpm_limit !== undefined) out.tpmLimit = s.tpm_limit;
  if (s.store_bodies !== undefined) out.storeBodies = s.store_bodies;
  return out;
}

/** Spend so far of one key, exact pico-USD (from the budget ledger). */
export type SpendReader = (keyId: string) => { today: bigint; month: bigint; total: bigint } | undefined;

/** A client key as the admin API shows it: never the key or its hash, only its prefix. */
export function clientKeyView(row: ClientKeyRow, spend?: SpendReader) {
  const s = spend?.(row.id);
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: new Date(row.createdAt).toISOString(),
    revoked_at: row.revokedAt ? new Date(row.revokedAt).toISOString() : null,
    enabled: row.enabled,
    expires_at: row.expiresAt ? new Date(row.expiresAt).toISOString() : null,
    allowed_models: row.allowedModels ? (JSON.parse(row.allowedModels) as string[]) : null,
    budget_daily_usd: toUsd(row.budgetDailyPico),
    budget_monthly_usd: toUsd(row.budgetMonthlyPico),
    budget_total_usd: toUsd(row.budgetTotalPico),
    rpm_limit: row.rpmLimit,
    tpm_limit: row.tpmLimit,
    store_bodies: row.storeBodies,
    spend_usd: s ? { today: Number(s.today) / PICO_PER_USD, month: Number(s.month) / PICO_PER_USD, total: Number(s.total) / PICO_PER_USD } : null,
  };
}

/** Client-key administration for the admin API; the verifier sees every change on the next request. */
export class ClientKeyAdmin {
  constructor(
    private readonly db: Db,
    private readonly onChange: () => void,
    private readonly spend?: SpendReader,
  ) {}

  list() {
    return listClientKeys(this.db).map((r) => clientKeyView(r, this.spend));
  }

  get(id: string) {
    const row = getClientKey(this.db, id);
    if (!row) throw new ClientError(404, `No client key with id '${id}'`, "invalid_request_error", "id", "not_found");
    return clientKeyView(row, this.spend);
  }

  /** Creates a key; the plaintext key is in the result once and never again. */
  create(settings: z.infer<typeof clientKeyCreateSchema>) {
    const { key, row } = createClientKey(this.db, settings.name);
    updateClientKey(this.db, row.id, { ...columns(settings), updatedAt: Date.now() });
    this.onChange();
    return { key, ...this.get(row.id) };
  }

  update(id: string, settings: ClientKeySettings) {
    const row = getClientKey(this.db, id);
    if (!row) throw new ClientError(404, `No client key with id '${id}'`, "invalid_request_error", "id", "not_found");
    if (row.revokedAt) throw new ClientError(409, "A revoked key cannot be changed", "invalid_request_error", "id", "revoked");
    updateClientKey(this.db, id, { ...columns(settings), updatedAt: Date.now() });
    this.onChange();
    return this.get(id);
  }

  revoke(id: string) {
    if (!revokeClientKey(this.db, id)) throw new ClientError(404, `No active client key with id '${id}'`, "invalid_request_error", "id", "not_found");
    this.onChange();
    return this.get(id);
  }
}

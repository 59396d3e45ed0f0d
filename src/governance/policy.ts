/**
 * A client key's governance settings (the `client_keys` columns), parsed once when the verifier
 * loads the keys, and the two per-request checks that need nothing but the policy: whether the key
 * may be used now, and whether it may use the model it asked for.
 */

/** Spend budgets in pico-USD (1 USD = 1e12); null = no budget. */
export type Budgets = { dailyPico: bigint | null; monthlyPico: bigint | null; totalPico: bigint | null };

export type KeyPolicy = {
  enabled: boolean;
  /** Epoch ms; the key stops working at this instant. null = never expires. */
  expiresAt: number | null;
  /** Names (exact, or a trailing-`*` prefix pattern) the key may use; null = all, [] = none. */
  allowedModels: string[] | null;
  budgets: Budgets;
  /** Requests per minute; null = unlimited. */
  rpm: number | null;
  /** Tokens per minute (estimated prompt + max output at admission, actual after); null = unlimited. */
  tpm: number | null;
  /** Store request/response bodies for this key's requests (in addition to `[request_log] store_bodies`). */
  storeBodies: boolean;
};

/** The policy of a key created without settings: everything open. */
export const OPEN_POLICY: KeyPolicy = Object.freeze({
  enabled: true,
  expiresAt: null,
  allowedModels: null,
  budgets: Object.freeze({ dailyPico: null, monthlyPico: null, totalPico: null }),
  rpm: null,
  tpm: null,
  storeBodies: false,
}) as KeyPolicy;

/** The `client_keys` columns the policy is read from (drizzle's camelCase row). */
export type KeyPolicyColumns = {
  enabled: boolean;
  expiresAt: number | null;
  allowedModels: string | null;
  budgetDailyPico: number | null;
  budgetMonthlyPico: number | null;
  budgetTotalPico: number | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  storeBodies: boolean;
};

const pico = (v: number | null): bigint | null => (v === null || !Number.isFinite(v) ? null : BigInt(Math.max(0, Math.round(v))));
const limit = (v: number | null): number | null => (v === null || !Number.isFinite(v) || v < 0 ? null : Math.floor(v));

/**
 * Reads a policy from a `client_keys` row. A malformed `allowed_models` value (not a JSON array of
 * strings) allows nothing: a broken allowlist must fail closed.
 */
export function keyPolicyFromRow(row: KeyPolicyColumns): KeyPolicy {
  let allowedModels: string[] | null = null;
  if (row.allowedModels !== null) {
    try {
      const parsed: unknown = JSON.parse(row.allowedModels);
      allowedModels = Array.isArray(parsed) ? parsed.filter((m): m is string => typeof m === "string" && m.length > 0) : [];
    } catch {
      allowedModels = [];
    }
  }
  return {
    enabled: row.enabled,
    expiresAt: row.expiresAt ?? null,
    allowedModels,
    budgets: { dailyPico: pico(row.budgetDailyPico), monthlyPico: pico(row.budgetMonthlyPico), totalPico: pico(row.budgetTotalPico) },
    rpm: limit(row.rpmLimit),
    tpm: limit(row.tpmLimit),
    storeBodies: row.storeBodies,
  };
}

export function hasBudget(policy: KeyPolicy): boolean {
  const b = policy.budgets;
  return b.dailyPico !== null || b.monthlyPico !== null || b.totalPico !== null;
}

/** Why a known, unrevoked key may not be used now, or "ok". */
export type KeyUsability = "ok" | "disabled" | "expired";

export function keyUsability(policy: KeyPolicy, now: number): KeyUsability {
  if (!policy.enabled) return "disabled";
  if (policy.expiresAt !== null && now >= policy.expiresAt) return "expired";
  return "ok";
}

function listed(allowed: string[], name: string): boolean {
  for (const entry of allowed) {
    if (entry === name) return true;
    if (entry.endsWith("*") && name.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

/**
 * Whether a key may use a model. Allowed when the name the client sent is listed (an alias,
 * `provider/model` or a bare model name, exact or by a trailing-`*` pattern such as `openai/*`),
 * or when every target it routes to is: a target is listed as `provider/model` or by its bare
 * upstream model name. So `gpt-4o` in the list also allows `openai/gpt-4o` and any alias whose
 * targets are all gpt-4o, while `openai/gpt-4o` allows only that provider. null allows all.
 */
export function modelAllowed(
  allowed: string[] | null,
  requested: string,
  targets: ReadonlyArray<{ label: string; upstreamModel: string }>,
): boolean {
  if (allowed === null) return true;
  if (listed(allowed, requested)) return true;
  return targets.length > 0 && targets.every((t) => listed(allowed, t.label) || listed(allowed, t.upstreamModel));
}

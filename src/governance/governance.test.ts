import { beforeAll, describe, expect, test } from "bun:test";
import type { ChatRequest } from "../core/types.ts";
import { createPricer } from "../pricing/price.ts";
import { PricingRegistry } from "../pricing/registry.ts";
import type { RequestRecord } from "../recorder/recorder.ts";
import { PRICING_SNAPSHOT } from "../testing/cli-process.ts";
import { estimatePromptTokens } from "./estimate.ts";
import { actualCostPico, formatUsd, Governance, GovernanceError, type GovernedKey, type GovernedTarget } from "./governance.ts";
import { InMemoryBudgetLedger, type BudgetLedger } from "./ledger.ts";
import { ModelOutputLimits } from "./model-limits.ts";
import { OPEN_POLICY, type KeyPolicy } from "./policy.ts";
import { InMemoryRateLimiter } from "./rate-limiter.ts";
import { GovernedTrace } from "./trace.ts";

let text = "";
beforeAll(async () => {
  text = await Bun.file(PRICING_SNAPSHOT).text();
});

const PICO_PER_TOKEN = { miniIn: 150_000n, miniOut: 600_000n, fourIn: 2_500_000n, fourOut: 10_000_000n };
const target = (label: string, type = "openai"): GovernedTarget => {
  const [provider, ...rest] = label.split("/");
  return { label, upstreamModel: rest.join("/"), provider: { id: provider!, type } };
};
const key = (policy: Partial<KeyPolicy> = {}, name = "ci bot"): GovernedKey => ({ id: `key_${name}`, name, policy: { ...OPEN_POLICY, ...policy } });
const budget = (dailyPico: bigint) => ({ budgets: { dailyPico, monthlyPico: null, totalPico: null } });
const request = (content = "Say hi", maxOutputTokens?: number): Pick<ChatRequest, "messages" | "maxOutputTokens"> => ({
  messages: [{ role: "user", content }],
  ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
});

function setup(settings: ConstructorParameters<typeof Governance>[0]["settings"] = {}, now = { t: Date.parse("2025-05-10T12:00:00Z") }) {
  const registry = PricingRegistry.fromText(text);
  const price = createPricer(() => registry, (id) => (id === "or" ? "openrouter" : undefined));
  const outputLimits = new ModelOutputLimits(() => text);
  const clock = () => now.t;
  const ledger = new InMemoryBudgetLedger(undefined, clock);
  const limiter = new InMemoryRateLimiter(clock);
  const gov = new Governance({ ledger, limiter, price, outputLimits, settings, clock });
  return { gov, ledger, limiter, price, now };
}

async function refusal(p: Promise<unknown>): Promise<GovernanceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GovernanceError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("reservations", () => {
  test("prompt estimate × input price + max_tokens × output price, the dearest target of an alias", async () => {
    const { gov } = setup();
    const req = request("Say hi", 100);
    const est = BigInt(estimatePromptTokens(req));
    const mini = await gov.admit(key(budget(10n ** 12n)), { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: req });
    expect(mini.reservedPico).toBe(est * PICO_PER_TOKEN.miniIn + 100n * PICO_PER_TOKEN.miniOut);
    expect(mini.maxOutputTokens).toBe(100);
    const alias = await gov.admit(key(budget(10n ** 12n)), { requestedModel: "smart", targets: [target("oa/gpt-4o-mini"), target("oa/gpt-4o")], request: req });
    expect(alias.reservedPico).toBe(est * PICO_PER_TOKEN.fourIn + 100n * PICO_PER_TOKEN.fourOut);
  });

  test("without max_tokens: the model's limit.output from models.dev, else the configured default; never above the limit", async () => {
    const { gov } = setup({ defaultMaxOutputTokens: 1234 });
    const k = key(budget(10n ** 13n));
    const none = await gov.admit(k, { requestedModel: "oa/gpt-4o", targets: [target("oa/gpt-4o")], request: request() });
    expect(none.maxOutputTokens).toBe(16_384);
    const huge = await gov.admit(k, { requestedModel: "oa/gpt-4o", targets: [target("oa/gpt-4o")], request: request("x", 1_000_000) });
    expect(huge.maxOutputTokens).toBe(16_384);
    // Priced by provider type, but no limit for an id models.dev does not list under that provider.
    const unknown = await gov.admit(key({ tpm: 1_000_000 }), { requestedModel: "oa/custom", targets: [target("oa/custom")], request: request() });
    expect(unknown.maxOutputTokens).toBe(1234);
  });

  test("keys without a budget hold nothing, but their spend is still tracked", async () => {
    const { gov, ledger } = setup();
    const k = key();
    const a = await gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request() });
    expect(a.reservedPico).toBe(0n);
    a.settle({ status: 200, usage: { inputTokens: 10, outputTokens: 10 }, providerType: "openai", provider: "oa", upstreamModel: "gpt-4o-mini" });
    expect(ledger.spend(k.id).today).toBe(10n * PICO_PER_TOKEN.miniIn + 10n * PICO_PER_TOKEN.miniOut);
  });
});

describe("settlement", () => {
  const base = { providerType: "openai", provider: "oa", upstreamModel: "gpt-4o-mini" };
  test("the actual cost by the recorder's rule: priced usage below 500, else nothing", () => {
    const { price } = setup();
    expect(actualCostPico(price, { ...base, status: 200, usage: { inputTokens: 1, outputTokens: 1 } })).toBe(750_000n);
    expect(actualCostPico(price, { ...base, status: 499, usage: { inputTokens: 1, outputTokens: 0, estimated: true } })).toBe(150_000n);
    expect(actualCostPico(price, { ...base, status: 502, usage: { inputTokens: 1, outputTokens: 1 } })).toBe(0n);
    expect(actualCostPico(price, { ...base, status: 200 })).toBe(0n);
    expect(actualCostPico(price, { ...base, status: 200, upstreamModel: "nope", usage: { inputTokens: 1 } })).toBe(0n);
    expect(actualCostPico(undefined, { ...base, status: 200, usage: { inputTokens: 1 } })).toBe(0n);
    // A record the recorder priced already carries its cost: it is used, not priced again.
    const notAgain = () => {
      throw new Error("priced a second time");
    };
    expect(actualCostPico(notAgain, { ...base, status: 200, usage: { inputTokens: 1, outputTokens: 1 }, costPico: 42n })).toBe(42n);
    expect(actualCostPico(notAgain, { ...base, status: 200, usage: { inputTokens: 1, outputTokens: 1 }, costPico: null })).toBe(0n);
  });

  test("releases the hold, books the cost, corrects TPM; once only", async () => {
    const { gov, ledger, limiter } = setup();
    const k = key({ ...budget(10n ** 12n), tpm: 100_000 });
    const a = await gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 500) });
    expect(ledger.spend(k.id).reserved).toBe(a.reservedPico);
    expect((await limiter.peek(k.id, k.policy)).tokens!.remaining).toBe(100_000 - a.promptTokens - 500);
    a.settle({ ...base, status: 200, usage: { inputTokens: 9, outputTokens: 11 } });
    a.settle({ ...base, status: 200, usage: { inputTokens: 9, outputTokens: 11 } });
    expect(ledger.spend(k.id)).toMatchObject({ reserved: 0n, today: 9n * 150_000n + 11n * 600_000n });
    expect((await limiter.peek(k.id, k.policy)).tokens!.remaining).toBe(100_000 - 20);
  });

  test("GovernedTrace hands the merged record to settlement exactly once", () => {
    const trace = new GovernedTrace(undefined, { endpoint: "chat.completions", stream: false, clientKeyId: "k" });
    const seen: Array<Partial<RequestRecord>> = [];
    trace.set({ provider: "oa", providerType: "openai", upstreamModel: "gpt-4o-mini" });
    trace.observe({ type: "response-start", model: "gpt-4o-mini-2024-07-18", warnings: [] } as never);
    trace.onFinish((r) => seen.push(r));
    trace.finish({ status: 200, usage: { inputTokens: 1 } });
    trace.finish({ status: 500 });
    trace.onFinish((r) => seen.push(r));
    expect(seen.length).toBe(2);
    expect(seen[0]).toMatchObject({ status: 200, provider: "oa", providerType: "openai", upstreamModel: "gpt-4o-mini", responseModel: "gpt-4o-mini-2024-07-18", clientKeyId: "k" });
    expect(seen[1]).toBe(seen[0]!);
  });

  test("every listener runs once, in order, even when one throws", () => {
    const trace = new GovernedTrace(undefined, { endpoint: "chat.completions", stream: false });
    const order: string[] = [];
    trace.onFinish(() => order.push("first"));
    trace.onFinish(() => {
      order.push("second");
      throw new Error("boom");
    });
    trace.onFinish(() => order.push("third"));
    trace.finish({ status: 200 });
    trace.finish({ status: 200 });
    expect(order).toEqual(["first", "second", "third"]);
  });

  test("a key without budgets or rate limits: enforce holds nothing and books the actual cost when the trace finishes", () => {
    // The trace's receivedAt is the real time: the governance clock runs from there.
    const { gov, ledger, now } = setup({}, { t: Date.now() });
    const k = key({}, "plain");
    const input = { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 10) };
    const trace = new GovernedTrace(undefined, { endpoint: "chat.completions", stream: false, clientKeyId: k.id });
    expect(gov.enforce(k, trace, input)).toEqual({});
    expect(ledger.spend(k.id).reserved).toBe(0n);
    trace.set({ ...base });
    trace.finish({ status: 200, usage: { inputTokens: 9, outputTokens: 11 } });
    const cost = 9n * 150_000n + 11n * 600_000n;
    expect(ledger.spend(k.id)).toMatchObject({ reserved: 0n, today: cost, month: cost, total: cost });
    // A failed upstream call costs nothing; the next day's spend starts from zero, the total goes on.
    const failed = new GovernedTrace(undefined, { endpoint: "chat.completions", stream: false, clientKeyId: k.id });
    gov.enforce(k, failed, input);
    failed.set({ ...base });
    failed.finish({ status: 502, usage: { inputTokens: 9, outputTokens: 11 } });
    expect(ledger.spend(k.id).total).toBe(cost);
    // A request received yesterday (by the ledger's clock) that finishes today counts for yesterday.
    const late = new GovernedTrace(undefined, { endpoint: "chat.completions", stream: false, clientKeyId: k.id });
    gov.enforce(k, late, input);
    late.set({ ...base });
    now.t += 86_400_000;
    late.finish({ status: 200, usage: { inputTokens: 9, outputTokens: 11 } });
    expect(ledger.spend(k.id)).toMatchObject({ today: 0n, total: 2n * cost });
  });
});

describe("refusals", () => {
  test("disabled and expired keys: 401 invalid_api_key saying why", () => {
    const { gov } = setup();
    const disabled = (() => {
      try {
        gov.checkKey(key({ enabled: false }));
      } catch (e) {
        return e as GovernanceError;
      }
    })();
    expect(disabled).toMatchObject({ status: 401, code: "invalid_api_key", message: expect.stringContaining("'ci bot' is disabled") });
    expect(() => gov.checkKey(key({ expiresAt: Date.parse("2025-05-10T11:00:00Z") }))).toThrow("expired at 2025-05-10T11:00:00.000Z");
    expect(() => gov.checkKey(key({ expiresAt: Date.parse("2025-05-10T13:00:00Z") }))).not.toThrow();
  });

  test("a model outside the allowlist: 403 model_not_allowed", () => {
    const { gov } = setup();
    expect(() => gov.checkModel(key({ allowedModels: ["gpt-4o"] }), "oa/gpt-4o-mini", [target("oa/gpt-4o-mini")])).toThrow(GovernanceError);
    try {
      gov.checkModel(key({ allowedModels: ["gpt-4o"] }), "oa/gpt-4o-mini", [target("oa/gpt-4o-mini")]);
    } catch (e) {
      expect((e as GovernanceError).toBody()).toEqual({
        error: { message: "The API key 'ci bot' is not allowed to use the model 'oa/gpt-4o-mini'.", type: "invalid_request_error", param: "model", code: "model_not_allowed" },
      });
    }
  });

  test("over budget: 429 budget_exceeded naming the budget, spent and reserved; Retry-After when only the period's end helps", async () => {
    const { gov } = setup();
    const k = key(budget(10_000_000_000n)); // $0.01
    const req = request("hi", 1000);
    const first = await gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: req });
    first.settle({ status: 200, usage: { inputTokens: 10, outputTokens: 1000 }, providerType: "openai", provider: "oa", upstreamModel: "gpt-4o-mini" });
    const holds = [];
    for (let i = 0; i < 15; i++) holds.push(await gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: req }));
    const e = await refusal(gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: req }));
    expect(e.status).toBe(429);
    expect(e.code).toBe("budget_exceeded");
    expect(e.type).toBe("insufficient_quota");
    expect(e.message).toStartWith("Daily budget of $0.01 for key 'ci bot' would be exceeded: $0.0006015 spent, $0.009018 reserved by requests in flight, and this request may cost up to $0.0006012 (≈8 prompt tokens + 1000 max output tokens).");
    expect(e.headers["retry-after"]).toBeUndefined();

    for (const h of holds) h.settle({ status: 200, usage: { inputTokens: 10, outputTokens: 1000 }, providerType: "openai", provider: "oa", upstreamModel: "gpt-4o-mini" });
    const exhausted = await refusal(gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: req }));
    expect(exhausted.message).toContain("$0.009624 spent, $0.00 reserved");
    expect(exhausted.message).toContain("The daily budget resets at 2025-05-11T00:00:00.000Z");
    expect(exhausted.headers["retry-after"]).toBe(String(12 * 3600));
  });

  test("a request that alone exceeds what is left says to lower max_tokens", async () => {
    const { gov } = setup();
    const e = await refusal(gov.admit(key(budget(10_000_000_000n)), { requestedModel: "oa/gpt-4o", targets: [target("oa/gpt-4o")], request: request() }));
    expect(e.message).toContain("(≈");
    expect(e.message).toContain("16384 max output tokens");
    expect(e.message).toContain("That alone is more than the $0.01 left: lower max_tokens.");
  });

  test("unpriced and zero-cost models under a budget follow [governance]; keys without a budget are not affected", async () => {
    const deny = setup().gov;
    const input = { requestedModel: "oa/my-model", targets: [target("oa/my-model")], request: request("x", 10) };
    const e = await refusal(deny.admit(key(budget(10n ** 12n)), input));
    expect(e).toMatchObject({ status: 403, code: "unpriced_model", param: "model" });
    expect(e.message).toContain("has no known price");
    expect(e.message).toContain('unpriced = "deny"');
    expect((await deny.admit(key(), input)).reservedPico).toBe(0n);

    const free = { requestedModel: "or/deepseek/deepseek-r1-0528-qwen3-8b:free", targets: [target("or/deepseek/deepseek-r1-0528-qwen3-8b:free", "openai-compatible")], request: request("x", 10) };
    const z = await refusal(deny.admit(key(budget(10n ** 12n)), free));
    expect(z).toMatchObject({ status: 403, code: "unpriced_model" });
    expect(z.message).toContain("is priced at $0");

    const allow = setup({ unpriced: "allow" }).gov;
    expect((await allow.admit(key(budget(10n ** 12n)), input)).reservedPico).toBe(0n);
    expect((await allow.admit(key(budget(10n ** 12n)), free)).reservedPico).toBe(0n);
    const mixed = setup({ unpriced: "allow", zeroCost: "deny" }).gov;
    expect((await refusal(mixed.admit(key(budget(10n ** 12n)), free))).code).toBe("unpriced_model");
  });

  test("rate limited: 429 rate_limit_exceeded with Retry-After and x-ratelimit-* headers", async () => {
    const { gov } = setup();
    const k = key({ rpm: 2 });
    const input = { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request() };
    expect((await gov.admit(k, input)).headers).toEqual({ "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "30s" });
    await gov.admit(k, input);
    const e = await refusal(gov.admit(k, input));
    expect(e).toMatchObject({ status: 429, code: "rate_limit_exceeded", type: "requests" });
    expect(e.message).toBe("Rate limit reached for key 'ci bot' on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in 30s.");
    expect(e.headers).toEqual({ "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m0s", "retry-after": "30" });
  });

  test("a request too large for the TPM limit is refused without Retry-After", async () => {
    const { gov } = setup();
    const e = await refusal(gov.admit(key({ tpm: 100 }), { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 200) }));
    expect(e).toMatchObject({ status: 429, code: "rate_limit_exceeded", type: "tokens" });
    expect(e.message).toStartWith("Request too large for key 'ci bot' on tokens per min (TPM): Limit 100, Requested 2");
    expect(e.headers["retry-after"]).toBeUndefined();
    expect(e.headers["x-ratelimit-remaining-tokens"]).toBe("100");
  });

  test("a budget refusal gives the rate-limit permit back", async () => {
    const { gov, limiter } = setup();
    const k = key({ ...budget(1n), rpm: 5, tpm: 100_000 });
    const e = await refusal(gov.admit(k, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 10) }));
    expect(e.code).toBe("budget_exceeded");
    expect(e.headers["x-ratelimit-remaining-requests"]).toBe("5");
    expect((await limiter.peek(k.id, k.policy)).tokens!.remaining).toBe(100_000);
  });
});

describe("asynchronous stores", () => {
  /** The in-memory ledger and limiter behind promises, as a shared (networked) store would answer. */
  function asyncSetup() {
    const { ledger, limiter, price, now } = setup();
    const later = <T>(value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), 1));
    const asyncLedger: BudgetLedger = {
      reserve: (...a) => later(ledger.reserve(...a)),
      settle: (...a) => later(ledger.settle(...a)),
      book: (...a) => later(ledger.book(...a)),
      spend: (id) => ledger.spend(id),
    };
    const asyncLimiter = new Proxy(limiter, { get: (t, name) => (typeof (t as any)[name] === "function" ? (...a: unknown[]) => later((t as any)[name](...a)) : (t as any)[name]) });
    const gov = new Governance({ ledger: asyncLedger, limiter: asyncLimiter, price, settings: {}, clock: () => now.t });
    return { gov, ledger, limiter };
  }

  test("admission works the same when the ledger and limiter answer with promises", async () => {
    const { gov, ledger, limiter } = asyncSetup();
    const ok = key({ ...budget(10_000_000_000n), rpm: 5 }, "async ok");
    const admission = await gov.admit(ok, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 10) });
    expect(admission.headers["x-ratelimit-remaining-requests"]).toBe("4");
    expect(ledger.spend(ok.id).reserved).toBe(admission.reservedPico);

    const poor = key({ ...budget(1n), rpm: 5 }, "async poor");
    const e = await refusal(gov.admit(poor, { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 10) }));
    expect(e.code).toBe("budget_exceeded");
    expect((await limiter.peek(poor.id, poor.policy)).requests!.remaining).toBe(5); // the permit was given back
  });

  test("enforce answers synchronously for a key without rate limits, with a promise for one with them", async () => {
    const { gov } = setup();
    const trace = () => new GovernedTrace(undefined, { endpoint: "chat.completions", stream: false });
    const input = { requestedModel: "oa/gpt-4o-mini", targets: [target("oa/gpt-4o-mini")], request: request("hi", 10) };
    expect(gov.enforce(key({}, "plain"), trace(), input)).toEqual({});
    const limited = gov.enforce(key({ rpm: 3 }, "limited"), trace(), input);
    expect(limited).toBeInstanceOf(Promise);
    expect((await limited)["x-ratelimit-remaining-requests"]).toBe("2");
  });
});

test("formatUsd is exact, trimmed, at least two decimals", () => {
  expect(formatUsd(10_000_000_000n)).toBe("$0.01");
  expect(formatUsd(1_000_000_000_000n)).toBe("$1.00");
  expect(formatUsd(998_100_000_000n)).toBe("$0.9981");
  expect(formatUsd(603_000_000n)).toBe("$0.000603");
  expect(formatUsd(0n)).toBe("$0.00");
});

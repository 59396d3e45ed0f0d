import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { ago, ms, pct, splitList } from "../lib/format.ts";
import { subscribe } from "../lib/live.ts";
import { setProviders } from "../lib/lookups.ts";
import { isAdmin, toast } from "../lib/state.ts";
import type { HealthStatus, Provider, ProviderHealth } from "../lib/types.ts";
import { Badge, Check, Confirm, Dialog, Empty, ErrorBox, Field, Loading, PageHeader, onValue, useAction, useLoad, type Tone } from "../components/ui.tsx";

const TYPES = ["openai", "anthropic", "gemini", "deepseek", "grok", "openai-compatible"] as const;
const HEALTH_TONE: Record<HealthStatus, Tone> = { healthy: "ok", degraded: "warn", down: "bad", unknown: "muted" };

export function ProvidersPage() {
  const load = useLoad(async (signal) => {
    const r = await api.get<{ data: Provider[] }>("/api/providers", signal);
    setProviders(r.data);
    return r.data;
  }, []);
  const [editing, setEditing] = useState<Provider | "new" | null>(null);
  const [testing, setTesting] = useState<Provider | null>(null);
  const [deleting, setDeleting] = useState<Provider | null>(null);
  const admin = isAdmin.value;

  // Status changes arrive on the `events` topic.
  useEffect(
    () =>
      subscribe("events", (e) => {
        if (e?.type !== "provider-status" || !e.provider) return;
        load.setData((list) => list?.map((p) => (p.id === e.provider ? { ...p, health: { ...(p.health ?? {}), ...(e.health ?? {}), status: e.to ?? e.health?.status } as ProviderHealth } : p)));
        toast(`Provider ${e.provider} is now ${e.to}`, e.to === "down" ? "error" : "ok");
      }),
    [],
  );

  const toggle = useAction();
  const setEnabled = async (p: Provider, enabled: boolean) => {
    const r = await toggle.run(() => api.patch(`/api/providers/${encodeURIComponent(p.id)}`, { enabled }), `${p.id} ${enabled ? "enabled" : "disabled"}`);
    if (r !== undefined) void load.reload();
  };

  return (
    <>
      <PageHeader title="Providers" sub="Upstream LLM APIs the gateway routes to. Providers from the config file are read-only here.">
        {admin && (
          <button type="button" class="btn primary" onClick={() => setEditing("new")}>
            Add provider
          </button>
        )}
      </PageHeader>
      <ErrorBox error={load.error ?? toggle.error} onRetry={load.error ? load.reload : undefined} />
      {!load.data && load.loading && <Loading />}
      {load.data && load.data.length === 0 && <Empty>No providers yet. {admin ? "Add one to start routing requests." : ""}</Empty>}
      <div class="provider-list">
        {load.data?.map((p) => (
          <ProviderCard
            key={p.id}
            p={p}
            admin={admin}
            onEdit={() => setEditing(p)}
            onTest={() => setTesting(p)}
            onDelete={() => setDeleting(p)}
            onToggle={() => setEnabled(p, !p.enabled)}
            busy={toggle.busy}
          />
        ))}
      </div>
      {editing && (
        <ProviderForm
          provider={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void load.reload();
          }}
        />
      )}
      {testing && <TestDialog provider={testing} onClose={() => setTesting(null)} />}
      {deleting && (
        <Confirm
          title={`Delete provider ${deleting.id}?`}
          action="Delete provider"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.del(`/api/providers/${encodeURIComponent(deleting.id)}`);
            toast(`Provider ${deleting.id} deleted`);
            void load.reload();
          }}
        >
          <p>Requests for its models stop being routed to it at once. Its stored API keys are deleted. The request log keeps its history.</p>
        </Confirm>
      )}
    </>
  );
}

function HealthBadge({ h }: { h?: ProviderHealth | null }) {
  const status = h?.status ?? "unknown";
  return (
    <Badge tone={HEALTH_TONE[status] ?? "muted"}>
      <span class="dot" aria-hidden="true" /> {status}
    </Badge>
  );
}

function lastError(h?: ProviderHealth | null): string | null {
  const e = h?.last_error;
  if (!e) return null;
  if (typeof e === "string") return e;
  return `${e.error_class}${e.message ? `: ${e.message}` : ""} (${ago(e.at)})`;
}

function lastProbe(h?: ProviderHealth | null): string | null {
  const p = h?.last_probe;
  if (p == null) return null;
  if (typeof p !== "object") return ago(p);
  return `${p.ok ? "ok" : `failed${p.error_class ? ` (${p.error_class})` : ""}`} ${ago(p.at)}`;
}

function ProviderCard({ p, admin, onEdit, onTest, onDelete, onToggle, busy }: { p: Provider; admin: boolean; onEdit: () => void; onTest: () => void; onDelete: () => void; onToggle: () => void; busy: boolean }) {
  const h = p.health;
  const err = lastError(h);
  const probe = lastProbe(h);
  return (
    <article class={`card provider ${p.enabled ? "" : "disabled"}`} data-provider={p.id}>
      <div class="provider-head">
        <div>
          <h2>
            {p.id} <span class="muted type">{p.type}</span>
          </h2>
          <div class="badges">
            <HealthBadge h={h} />
            {!p.enabled && <Badge tone="warn">disabled</Badge>}
            <Badge tone="muted" title={p.read_only ? "Defined in the config file or environment: edit it there" : "Managed in the dashboard"}>
              {p.source === "admin" ? "dashboard" : p.source}
              {p.read_only ? " · read-only" : ""}
            </Badge>
          </div>
        </div>
        {admin && (
          <div class="actions">
            <button type="button" class="btn small" onClick={onTest}>
              Test
            </button>
            {!p.read_only && (
              <>
                <button type="button" class="btn small" onClick={onEdit}>
                  Edit
                </button>
                <button type="button" class="btn small" onClick={onToggle} disabled={busy}>
                  {p.enabled ? "Disable" : "Enable"}
                </button>
                <button type="button" class="btn small danger" onClick={onDelete}>
                  Delete
                </button>
              </>
            )}
          </div>
        )}
      </div>
      <dl class="kv small">
        <dt>Base URL</dt>
        <dd class="mono break">{p.base_url ?? <span class="muted">default for {p.type}</span>}</dd>
        <dt>Models</dt>
        <dd>{p.models?.length ? p.models.map((m) => <span class="tag mono" key={m}>{m}</span>) : <span class="muted">any model routed to it</span>}</dd>
        <dt>API keys</dt>
        <dd>{p.api_keys.length ? p.api_keys.map((k, i) => <span class="tag mono" key={i}>••••{k.last4}</span>) : <span class="muted">none</span>}</dd>
        {p.pricing_provider && (
          <>
            <dt>Priced as</dt>
            <dd>{p.pricing_provider}</dd>
          </>
        )}
        <dt>Traffic</dt>
        <dd>
          error rate {pct(h?.error_rate ?? null)} · p50 {ms(h?.latency_p50_ms ?? null)}
          {probe && <span class="muted"> · last probe {probe}</span>}
        </dd>
        {err && (
          <>
            <dt>Last error</dt>
            <dd class="text-bad">{err}</dd>
          </>
        )}
      </dl>
    </article>
  );
}

function ProviderForm({ provider, onClose, onSaved }: { provider: Provider | null; onClose: () => void; onSaved: () => void }) {
  const isNew = !provider;
  const [id, setId] = useState(provider?.id ?? "");
  const [type, setType] = useState<string>(provider?.type ?? "openai-compatible");
  const [baseUrl, setBaseUrl] = useState(provider?.base_url ?? "");
  const [keys, setKeys] = useState("");
  const [models, setModels] = useState(provider?.models?.join(", ") ?? "");
  const [pricingProvider, setPricingProvider] = useState(provider?.pricing_provider ?? "");
  const [enabled, setEnabled] = useState(provider?.enabled ?? true);
  const { busy, error, run } = useAction();

  const save = async () => {
    const body: Record<string, unknown> = {
      base_url: baseUrl.trim() || null,
      models: splitList(models).length ? splitList(models) : null,
      pricing_provider: pricingProvider.trim() || null,
      enabled,
    };
    // An edit sends only what changed; API keys only when new ones were typed (they replace all).
    if (provider) {
      const before: Record<string, unknown> = { base_url: provider.base_url, models: provider.models?.length ? provider.models : null, pricing_provider: provider.pricing_provider, enabled: provider.enabled };
      for (const k of Object.keys(body)) if (JSON.stringify(body[k]) === JSON.stringify(before[k])) delete body[k];
    }
    if (keys.trim()) body.api_keys = splitList(keys);
    if (provider && Object.keys(body).length === 0) return onClose();
    const r = await run(() =>
      isNew ? api.post("/api/providers", { id: id.trim(), type, ...body }) : api.patch(`/api/providers/${encodeURIComponent(provider!.id)}`, body),
      isNew ? `Provider ${id.trim()} added` : `Provider ${provider!.id} saved`,
    );
    if (r !== undefined) onSaved();
  };

  return (
    <Dialog
      title={isNew ? "Add provider" : `Edit ${provider!.id}`}
      onClose={onClose}
      onSubmit={save}
      submit={isNew ? "Add provider" : "Save"}
      busy={busy}
      error={error}
    >
      <div class="form-grid">
        {isNew && (
          <>
            <Field label="ID" hint="Lowercase letters, digits, '-', '_' or '.'; used in logs and routing.">
              <input name="id" required pattern="[a-z0-9][a-z0-9_.\-]{0,62}" value={id} onInput={onValue(setId)} autocomplete="off" spellcheck={false} />
            </Field>
            <Field label="Type">
              <select name="type" value={type} onChange={onValue(setType)}>
                {TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </Field>
          </>
        )}
        <Field label="Base URL" hint={type === "openai-compatible" ? "Required for openai-compatible, e.g. http://localhost:8000/v1" : "Leave empty for the provider's official API."} class="span-2">
          <input name="base_url" type="url" value={baseUrl} onInput={onValue(setBaseUrl)} placeholder="https://…" autocomplete="off" spellcheck={false} />
        </Field>
        <Field
          label="API keys"
          hint={isNew ? "Separate several keys with commas; they are used in turn. Stored encrypted, never shown again." : `Leave empty to keep the ${provider!.api_keys.length} current key(s); anything entered replaces them all.`}
          class="span-2"
        >
          <input name="api_keys" type="password" value={keys} onInput={onValue(setKeys)} autocomplete="new-password" spellcheck={false} />
        </Field>
        <Field label="Models" hint="Comma-separated model names this provider serves. Empty: any model routed to it." class="span-2">
          <input name="models" value={models} onInput={onValue(setModels)} placeholder="gpt-4o, gpt-4o-mini" autocomplete="off" spellcheck={false} />
        </Field>
        <Field label="Pricing provider" hint="models.dev provider to price its models as (optional).">
          <input name="pricing_provider" value={pricingProvider} onInput={onValue(setPricingProvider)} autocomplete="off" spellcheck={false} />
        </Field>
        <div class="field">
          <span class="field-label">State</span>
          <Check label="Enabled" checked={enabled} onChange={setEnabled} />
        </div>
      </div>
    </Dialog>
  );
}

type TestResult = { ok: boolean; latency_ms: number; model: string; status?: number; error_class?: string; message?: string };

function TestDialog({ provider, onClose }: { provider: Provider; onClose: () => void }) {
  const [model, setModel] = useState(provider.models?.[0] ?? "");
  const [result, setResult] = useState<TestResult>();
  const { busy, error, run } = useAction();
  const test = async () => {
    setResult(undefined);
    const r = await run(() => api.post<TestResult>(`/api/providers/${encodeURIComponent(provider.id)}/test`, model.trim() ? { model: model.trim() } : {}));
    if (r) setResult(r);
  };
  return (
    <Dialog
      title={`Test ${provider.id}`}
      onClose={onClose}
      onSubmit={test}
      footer={
        <>
          <button type="button" class="btn" onClick={onClose}>
            Close
          </button>
          <button type="submit" class="btn primary" disabled={busy}>
            {busy ? "Testing…" : "Run test"}
          </button>
        </>
      }
    >
      <p class="muted small">Sends a tiny request through this provider (it may cost a fraction of a cent).</p>
      <Field label="Model" hint="Optional; defaults to the provider's first model.">
        <input name="model" value={model} onInput={onValue(setModel)} list="test-models" autocomplete="off" spellcheck={false} />
        <datalist id="test-models">
          {provider.models?.map((m) => (
            <option key={m} value={m} />
          ))}
        </datalist>
      </Field>
      <ErrorBox error={error} />
      {result && (
        <div class={`alert ${result.ok ? "ok" : "error"}`} role="status" data-testid="test-result">
          <strong>{result.ok ? "Connection works" : "Test failed"}</strong>
          <span>
            {result.model} · {ms(result.latency_ms)}
            {result.status != null && ` · HTTP ${result.status}`}
            {result.error_class && ` · ${result.error_class}`}
          </span>
          {result.message && <span class="small">{result.message}</span>}
        </div>
      )}
    </Dialog>
  );
}

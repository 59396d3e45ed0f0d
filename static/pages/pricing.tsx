import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { ago, dateTime, int, usd } from "../lib/format.ts";
import { isAdmin } from "../lib/state.ts";
import type { Pricing, PricingOverride } from "../lib/types.ts";
import { Badge, Card, Confirm, Dialog, Empty, ErrorBox, Field, Loading, PageHeader, onValue, useAction, useLoad } from "../components/ui.tsx";

const PRICE_FIELDS = [
  ["input", "Input"],
  ["output", "Output"],
  ["cache_read", "Cache read"],
  ["cache_write", "Cache write"],
  ["reasoning", "Reasoning"],
] as const;
type PriceField = (typeof PRICE_FIELDS)[number][0];

const perMillion = (v: number | null | undefined) => (v == null ? "–" : `$${+v.toFixed(6)}`);

export function PricingPage() {
  const load = useLoad((signal) => api.get<Pricing>("/api/pricing", signal), []);
  const [editing, setEditing] = useState<{ model: string; o?: PricingOverride } | null>(null);
  const [removing, setRemoving] = useState<PricingOverride | null>(null);
  const refresh = useAction();
  const admin = isAdmin.value;
  const p = load.data;

  // While a refresh runs on the server, poll until it is done.
  useEffect(() => {
    if (!p?.source.refreshing) return;
    const t = setTimeout(() => void load.reload(), 2000);
    return () => clearTimeout(t);
  }, [p]);

  const doRefresh = async () => {
    const r = await refresh.run(() => api.post("/api/pricing/refresh"), "Pricing refreshed");
    if (r !== undefined) void load.reload();
  };

  return (
    <>
      <PageHeader title="Models & pricing" sub="Where prices come from, your overrides, and models seen in traffic without a price." />
      <ErrorBox error={load.error} onRetry={load.reload} />
      {!p && load.loading && <Loading />}
      {p && (
        <div class="stack-lg">
          <Card
            title="Price registry"
            actions={
              admin && (
                <button type="button" class="btn" onClick={doRefresh} disabled={refresh.busy || p.source.refreshing}>
                  {refresh.busy || p.source.refreshing ? "Refreshing…" : "Refresh now"}
                </button>
              )
            }
          >
            <dl class="kv">
              <dt>Source</dt>
              <dd class="mono break">{p.source.source}</dd>
              <dt>Loaded from</dt>
              <dd>{p.source.loadedFrom}</dd>
              <dt>Version</dt>
              <dd class="mono">{p.source.version}</dd>
              <dt>Models priced</dt>
              <dd>{int(p.source.models)}</dd>
              <dt>Last refresh</dt>
              <dd>
                {p.source.lastSuccessAt ? `${dateTime(p.source.lastSuccessAt)} (${ago(p.source.lastSuccessAt)})` : "never"}
                {p.source.lastAttemptAt && p.source.lastAttemptAt !== p.source.lastSuccessAt && <span class="muted"> · last attempt {ago(p.source.lastAttemptAt)}</span>}
              </dd>
              {p.source.lastError && (
                <>
                  <dt>Last error</dt>
                  <dd class="text-bad">{p.source.lastError}</dd>
                </>
              )}
            </dl>
            <ErrorBox error={refresh.error} />
          </Card>

          <Card
            title="Overrides"
            actions={
              admin && (
                <button type="button" class="btn" onClick={() => setEditing({ model: "" })}>
                  Add override
                </button>
              )
            }
          >
            <p class="muted small">Prices in USD per million tokens. They win over the registry. Overrides from the config file are read-only.</p>
            {p.overrides.length === 0 ? (
              <Empty>No overrides.</Empty>
            ) : (
              <div class="table-wrap">
                <table class="table" data-testid="overrides">
                  <thead>
                    <tr>
                      <th scope="col">Model</th>
                      {PRICE_FIELDS.map(([k, label]) => (
                        <th scope="col" class={`num ${k === "input" || k === "output" ? "" : "hide-sm"}`} key={k}>
                          {label}
                        </th>
                      ))}
                      <th scope="col">Origin</th>
                      {admin && (
                        <th scope="col" class="right">
                          <span class="sr-only">Actions</span>
                        </th>
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {p.overrides.map((o) => (
                      <tr key={o.model}>
                        <th scope="row" class="mono">
                          {o.model}
                        </th>
                        {PRICE_FIELDS.map(([k]) => (
                          <td class={`num ${k === "input" || k === "output" ? "" : "hide-sm"}`} key={k}>
                            {perMillion(o[k])}
                          </td>
                        ))}
                        <td>
                          <Badge tone={o.origin === "config" ? "muted" : "info"}>{o.origin}</Badge>
                        </td>
                        {admin && (
                          <td class="right nowrap">
                            {o.origin === "dashboard" && (
                              <>
                                <button type="button" class="btn small" onClick={() => setEditing({ model: o.model, o })}>
                                  Edit
                                </button>{" "}
                                <button type="button" class="btn small danger" onClick={() => setRemoving(o)}>
                                  Delete
                                </button>
                              </>
                            )}
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>

          <Card title="Unpriced models seen in traffic">
            {p.unpriced.length === 0 ? (
              <Empty>Every model seen recently has a price.</Empty>
            ) : (
              <div class="table-wrap">
                <table class="table" data-testid="unpriced">
                  <thead>
                    <tr>
                      <th scope="col">Model</th>
                      <th scope="col">Provider</th>
                      <th scope="col" class="num">Requests</th>
                      <th scope="col" class="hide-sm">Last seen</th>
                      {admin && (
                        <th scope="col" class="right">
                          <span class="sr-only">Actions</span>
                        </th>
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {p.unpriced.map((u, i) => (
                      <tr key={i}>
                        <th scope="row" class="mono">
                          {u.model ?? "–"}
                        </th>
                        <td>
                          {u.provider ?? "–"}
                          {u.provider_type && <span class="muted small"> ({u.provider_type})</span>}
                        </td>
                        <td class="num">{int(u.requests)}</td>
                        <td class="hide-sm">{ago(u.last_seen)}</td>
                        {admin && (
                          <td class="right">
                            {u.model && (
                              <button type="button" class="btn small primary" onClick={() => setEditing({ model: u.model! })}>
                                Set price
                              </button>
                            )}
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>

          {admin && <Recompute onDone={load.reload} />}
        </div>
      )}
      {editing && (
        <OverrideForm
          model={editing.model}
          o={editing.o}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void load.reload();
          }}
        />
      )}
      {removing && (
        <Confirm
          title={`Delete the override for ${removing.model}?`}
          action="Delete override"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.del(`/api/pricing/overrides/${encodeURIComponent(removing.model)}`);
            void load.reload();
          }}
        >
          <p>New requests for this model are priced from the registry again (or stay unpriced). Logged costs change only if you recompute.</p>
        </Confirm>
      )}
    </>
  );
}

function OverrideForm({ model: initial, o, onClose, onSaved }: { model: string; o?: PricingOverride; onClose: () => void; onSaved: () => void }) {
  const [model, setModel] = useState(initial);
  const [prices, setPrices] = useState<Record<PriceField, string>>(() => {
    const out = {} as Record<PriceField, string>;
    for (const [k] of PRICE_FIELDS) out[k] = o?.[k] != null ? String(o[k]) : "";
    return out;
  });
  const { busy, error, setError, run } = useAction();
  const save = async () => {
    const body: Record<string, number | null> = {};
    for (const [k] of PRICE_FIELDS) {
      const v = prices[k].trim();
      if (v === "") {
        if (k === "input" || k === "output") return setError("Input and output prices are required.");
        continue;
      }
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) return setError(`The ${k.replace("_", " ")} price must be a number ≥ 0.`);
      body[k] = n;
    }
    const r = await run(() => api.put(`/api/pricing/overrides/${encodeURIComponent(model.trim())}`, body), `Price for ${model.trim()} saved`);
    if (r !== undefined) onSaved();
  };
  return (
    <Dialog
      title={o ? `Edit price of ${o.model}` : initial ? `Set a price for ${initial}` : "Add price override"}
      onClose={onClose}
      onSubmit={save}
      submit="Save price"
      busy={busy}
      error={error}
    >
      {!initial && (
        <Field label="Model" hint="The model name as clients or providers report it.">
          <input name="model" required value={model} onInput={onValue(setModel)} autocomplete="off" spellcheck={false} />
        </Field>
      )}
      <p class="muted small">USD per 1 million tokens. Leave the optional ones empty to use the input/output price.</p>
      <div class="form-grid">
        {PRICE_FIELDS.map(([k, label]) => (
          <Field key={k} label={`${label}${k === "input" || k === "output" ? "" : " (optional)"}`}>
            <input
              name={`price_${k}`}
              type="number"
              min="0"
              step="any"
              inputMode="decimal"
              required={k === "input" || k === "output"}
              value={prices[k]}
              onInput={onValue((v) => setPrices((p) => ({ ...p, [k]: v })))}
            />
          </Field>
        ))}
      </div>
    </Dialog>
  );
}

type RecomputeResult = { scanned: number; changed: number; newly_priced: number; unpriced: number; delta_usd: number };

function Recompute({ onDone }: { onDone: () => void }) {
  const [since, setSince] = useState("7d");
  const [date, setDate] = useState("");
  const [result, setResult] = useState<RecomputeResult>();
  const { busy, error, setError, run } = useAction();
  const go = async (e: Event) => {
    e.preventDefault();
    setResult(undefined);
    if (since === "date" && !date) return setError("Pick a start date.");
    const body = { since: since === "date" ? new Date(`${date}T00:00:00`).toISOString() : since };
    const r = await run(() => api.post<RecomputeResult>("/api/pricing/recompute", body));
    if (r) {
      setResult(r);
      onDone();
    }
  };
  return (
    <Card title="Recompute logged costs">
      <p class="muted small">Prices logged requests again with the current registry and overrides, e.g. after setting a price for an unpriced model.</p>
      <form class="inline-form" onSubmit={go}>
        <Field label="Requests since">
          <select name="since" value={since} onChange={onValue(setSince)}>
            <option value="1d">the last day</option>
            <option value="7d">the last 7 days</option>
            <option value="30d">the last 30 days</option>
            <option value="date">a date…</option>
          </select>
        </Field>
        {since === "date" && (
          <Field label="Start date">
            <input name="since_date" type="date" value={date} onInput={onValue(setDate)} />
          </Field>
        )}
        <button type="submit" class="btn primary" disabled={busy}>
          {busy ? "Recomputing…" : "Recompute"}
        </button>
      </form>
      <ErrorBox error={error} />
      {result && (
        <div class="alert ok" role="status">
          <span>
            Scanned {int(result.scanned)} requests: {int(result.changed)} changed, {int(result.newly_priced)} newly priced, {int(result.unpriced)} still unpriced.
          </span>
          <strong>Cost change: {result.delta_usd >= 0 ? "+" : ""}{usd(result.delta_usd)}</strong>
        </div>
      )}
    </Card>
  );
}

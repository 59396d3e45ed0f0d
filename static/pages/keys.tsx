import { useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { dateTime, int, splitList, toDate, usd } from "../lib/format.ts";
import { setKeys } from "../lib/lookups.ts";
import { isAdmin, toast } from "../lib/state.ts";
import type { ClientKey } from "../lib/types.ts";
import { Badge, Check, Confirm, CopyField, Dialog, Empty, ErrorBox, Field, Loading, PageHeader, Progress, onValue, useAction, useLoad } from "../components/ui.tsx";

export function KeysPage() {
  const load = useLoad(async (signal) => {
    const r = await api.get<{ data: ClientKey[] }>("/api/keys", signal);
    setKeys(r.data);
    return r.data;
  }, []);
  const [editing, setEditing] = useState<ClientKey | "new" | null>(null);
  const [revoking, setRevoking] = useState<ClientKey | null>(null);
  const [created, setCreated] = useState<{ key: string; name: string } | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const admin = isAdmin.value;
  const all = load.data ?? [];
  const visible = all.filter((k) => showRevoked || !k.revoked_at);
  const revokedCount = all.length - all.filter((k) => !k.revoked_at).length;

  return (
    <>
      <PageHeader title="Client keys" sub="Keys your applications use to call /v1, with their budgets and rate limits.">
        {revokedCount > 0 && <Check label={`Show revoked (${revokedCount})`} checked={showRevoked} onChange={setShowRevoked} />}
        {admin && (
          <button type="button" class="btn primary" onClick={() => setEditing("new")}>
            Create key
          </button>
        )}
      </PageHeader>
      <ErrorBox error={load.error} onRetry={load.reload} />
      {!load.data && load.loading && <Loading />}
      {load.data && visible.length === 0 && <Empty>No client keys yet.{admin ? " Create one to let an application call the gateway." : ""}</Empty>}
      <div class="key-list">
        {visible.map((k) => (
          <KeyCard key={k.id} k={k} admin={admin} onEdit={() => setEditing(k)} onRevoke={() => setRevoking(k)} />
        ))}
      </div>
      {editing && (
        <KeyForm
          k={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(r) => {
            setEditing(null);
            if (r?.key) setCreated({ key: r.key, name: r.name });
            void load.reload();
          }}
        />
      )}
      {created && <RevealKey secret={created.key} name={created.name} onClose={() => setCreated(null)} />}
      {revoking && (
        <Confirm
          title={`Revoke ${revoking.name}?`}
          action="Revoke key"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.post(`/api/keys/${encodeURIComponent(revoking.id)}/revoke`);
            toast(`Key ${revoking.name} revoked`);
            void load.reload();
          }}
        >
          <p>
            Applications using <span class="mono">{revoking.prefix}…</span> are refused from the next request. This cannot be undone.
          </p>
        </Confirm>
      )}
    </>
  );
}

function keyState(k: ClientKey): { label: string; tone: "ok" | "warn" | "bad" | "muted" } {
  if (k.revoked_at) return { label: "revoked", tone: "bad" };
  const exp = toDate(k.expires_at);
  if (exp && exp.getTime() <= Date.now()) return { label: "expired", tone: "bad" };
  if (!k.enabled) return { label: "disabled", tone: "warn" };
  return { label: "active", tone: "ok" };
}

function Budget({ label, spent, budget }: { label: string; spent: number | undefined; budget: number | null }) {
  return (
    <div class="budget">
      <div class="budget-head">
        <span>{label}</span>
        <span class="num">
          {usd(spent ?? 0)}
          {budget != null ? <span class="muted"> of {usd(budget)}</span> : <span class="muted"> · no limit</span>}
        </span>
      </div>
      {budget != null && <Progress value={spent ?? 0} max={budget} label={`${label} spend of budget`} />}
    </div>
  );
}

function KeyCard({ k, admin, onEdit, onRevoke }: { k: ClientKey; admin: boolean; onEdit: () => void; onRevoke: () => void }) {
  const s = keyState(k);
  return (
    <article class={`card key ${s.label}`} data-key-id={k.id}>
      <div class="provider-head">
        <div>
          <h2>{k.name}</h2>
          <div class="badges">
            <Badge tone={s.tone}>{s.label}</Badge>
            <span class="mono muted small">{k.prefix}…</span>
          </div>
        </div>
        {admin && !k.revoked_at && (
          <div class="actions">
            <button type="button" class="btn small" onClick={onEdit}>
              Edit
            </button>
            <button type="button" class="btn small danger" onClick={onRevoke}>
              Revoke
            </button>
          </div>
        )}
      </div>
      <div class="key-body">
        <div class="budgets">
          <Budget label="Today" spent={k.spend_usd?.today} budget={k.budget_daily_usd} />
          <Budget label="This month" spent={k.spend_usd?.month} budget={k.budget_monthly_usd} />
          <Budget label="All time" spent={k.spend_usd?.total} budget={k.budget_total_usd} />
        </div>
        <dl class="kv small">
          <dt>Rate limits</dt>
          <dd>
            {k.rpm_limit != null ? `${int(k.rpm_limit)} req/min` : "no request limit"} · {k.tpm_limit != null ? `${int(k.tpm_limit)} tokens/min` : "no token limit"}
          </dd>
          <dt>Models</dt>
          <dd>{k.allowed_models?.length ? k.allowed_models.map((m) => <span class="tag mono" key={m}>{m}</span>) : <span class="muted">all models</span>}</dd>
          <dt>Bodies</dt>
          <dd>{k.store_bodies ? "stored" : "not stored"}</dd>
          <dt>Created</dt>
          <dd>{dateTime(k.created_at)}</dd>
          <dt>Expires</dt>
          <dd>{k.expires_at ? dateTime(k.expires_at) : "never"}</dd>
          {k.revoked_at && (
            <>
              <dt>Revoked</dt>
              <dd>{dateTime(k.revoked_at)}</dd>
            </>
          )}
        </dl>
      </div>
    </article>
  );
}

/** ISO → value for <input type="datetime-local"> (local time). */
function toLocalInput(iso: string | null): string {
  const d = toDate(iso);
  if (!d) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const numOrNull = (s: string) => (s.trim() === "" ? null : Number(s));

type KeyFields = { name: string; enabled: boolean; expires: string; models: string; daily: string; monthly: string; total: string; rpm: string; tpm: string; store: boolean };

/** Form fields → the API's settings (empty limits are null: no limit). */
function toBody(f: KeyFields) {
  return {
    name: f.name.trim(),
    enabled: f.enabled,
    expires_at: f.expires ? new Date(f.expires).toISOString() : null,
    allowed_models: splitList(f.models).length ? splitList(f.models) : null,
    budget_daily_usd: numOrNull(f.daily),
    budget_monthly_usd: numOrNull(f.monthly),
    budget_total_usd: numOrNull(f.total),
    rpm_limit: numOrNull(f.rpm),
    tpm_limit: numOrNull(f.tpm),
    store_bodies: f.store,
  };
}

function KeyForm({ k, onClose, onSaved }: { k: ClientKey | null; onClose: () => void; onSaved: (created?: { key: string; name: string }) => void }) {
  const isNew = !k;
  const [f, setF] = useState<KeyFields>({
    name: k?.name ?? "",
    enabled: k?.enabled ?? true,
    expires: toLocalInput(k?.expires_at ?? null),
    models: k?.allowed_models?.join(", ") ?? "",
    daily: k?.budget_daily_usd?.toString() ?? "",
    monthly: k?.budget_monthly_usd?.toString() ?? "",
    total: k?.budget_total_usd?.toString() ?? "",
    rpm: k?.rpm_limit?.toString() ?? "",
    tpm: k?.tpm_limit?.toString() ?? "",
    store: k?.store_bodies ?? false,
  });
  const set = (patch: Partial<KeyFields>) => setF((prev) => ({ ...prev, ...patch }));
  const { busy, error, run } = useAction();

  const [initial] = useState(() => toBody(f));

  const save = async () => {
    const body = toBody(f);
    // An edit sends only what changed (null clears a limit), so the audit log names the real change.
    const patch = Object.fromEntries(Object.entries(body).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(initial[k as keyof typeof initial])));
    if (!isNew && Object.keys(patch).length === 0) return onClose();
    const r = await run(() =>
      isNew ? api.post<ClientKey & { key: string }>("/api/keys", body) : api.patch<ClientKey>(`/api/keys/${encodeURIComponent(k!.id)}`, patch),
      isNew ? undefined : `Key ${body.name} saved`,
    );
    if (r !== undefined) onSaved(isNew ? { key: (r as unknown as { key: string }).key, name: body.name } : undefined);
  };

  const money = { type: "number" as const, min: "0", step: "0.01", inputMode: "decimal" as const, placeholder: "no limit" };
  return (
    <Dialog
      wide
      title={isNew ? "Create client key" : `Edit ${k!.name}`}
      onClose={onClose}
      onSubmit={save}
      submit={isNew ? "Create key" : "Save"}
      busy={busy}
      error={error}
    >
      <div class="form-grid three">
        <Field label="Name" class="span-2">
          <input name="name" required maxLength={100} value={f.name} onInput={onValue((v) => set({ name: v }))} autocomplete="off" />
        </Field>
        <Field label="Expires" hint="Empty: never.">
          <input name="expires_at" type="datetime-local" value={f.expires} onInput={onValue((v) => set({ expires: v }))} />
        </Field>
        <Field label="Allowed models" hint="Comma-separated; empty allows every model." class="span-3">
          <input name="allowed_models" value={f.models} onInput={onValue((v) => set({ models: v }))} placeholder="all models" autocomplete="off" spellcheck={false} />
        </Field>
        <Field label="Daily budget (USD)">
          <input name="budget_daily_usd" {...money} value={f.daily} onInput={onValue((v) => set({ daily: v }))} />
        </Field>
        <Field label="Monthly budget (USD)">
          <input name="budget_monthly_usd" {...money} value={f.monthly} onInput={onValue((v) => set({ monthly: v }))} />
        </Field>
        <Field label="Total budget (USD)">
          <input name="budget_total_usd" {...money} value={f.total} onInput={onValue((v) => set({ total: v }))} />
        </Field>
        <Field label="Requests per minute">
          <input name="rpm_limit" type="number" min="1" step="1" placeholder="no limit" value={f.rpm} onInput={onValue((v) => set({ rpm: v }))} />
        </Field>
        <Field label="Tokens per minute">
          <input name="tpm_limit" type="number" min="1" step="1" placeholder="no limit" value={f.tpm} onInput={onValue((v) => set({ tpm: v }))} />
        </Field>
        <div class="field">
          <span class="field-label">Options</span>
          <Check label="Enabled" checked={f.enabled} onChange={(v) => set({ enabled: v })} />
          <Check label="Store request and response bodies" checked={f.store} onChange={(v) => set({ store: v })} />
        </div>
      </div>
    </Dialog>
  );
}

function RevealKey({ secret, name, onClose }: { secret: string; name: string; onClose: () => void }) {
  return (
    <Dialog
      title={`Key created: ${name}`}
      onClose={onClose}
      footer={
        <button type="button" class="btn primary" onClick={onClose}>
          I have saved the key
        </button>
      }
    >
      <div class="alert warn" role="note">
        <strong>Copy this key now: you will not see it again.</strong>
        <span>Only a hash is stored. If you lose it, revoke it and create a new one.</span>
      </div>
      <CopyField value={secret} label="New client key" />
      <p class="small muted">
        Use it as the API key of any OpenAI-compatible client, with the base URL <span class="mono">{window.location.origin}/v1</span>.
      </p>
    </Dialog>
  );
}

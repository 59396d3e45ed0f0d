import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorMessage, query } from "../lib/api.ts";
import { DASH, int, isOk, isUnpricedRow, ms, time, toDate, usd } from "../lib/format.ts";
import { liveStatus, subscribe } from "../lib/live.ts";
import { keyLabel, keyNames, loadKeyNames, loadProviderIds, providerIds } from "../lib/lookups.ts";
import { location, navigate } from "../lib/router.ts";
import type { RequestRow } from "../lib/types.ts";
import { Badge, Empty, ErrorBox, Field, Loading, PageHeader, onValue } from "../components/ui.tsx";

type Filters = { provider: string; model: string; key: string; project: string; status: "" | "ok" | "error" };
type InFlight = { id: string; received_at: number | string; endpoint: string; client_key_id: string | null; seen: number };

const MAX_ROWS = 500;
const ts = (t: number | string) => toDate(t)?.getTime() ?? 0;

function filtersFromUrl(search: string): Filters {
  const q = new URLSearchParams(search);
  const status = q.get("status");
  return { provider: q.get("provider") ?? "", model: q.get("model") ?? "", key: q.get("key") ?? "", project: q.get("project") ?? "", status: status === "ok" || status === "error" ? status : "" };
}

function matches(row: RequestRow, f: Filters): boolean {
  if (f.provider && row.provider !== f.provider) return false;
  if (f.model && row.model !== f.model && row.upstream_model !== f.model) return false;
  if (f.key && row.client_key_id !== f.key) return false;
  if (f.project && row.project !== f.project) return false;
  if (f.status && isOk(row.status) !== (f.status === "ok")) return false;
  return true;
}

/** Inserts or replaces rows by id, newest first, keeping at most MAX_ROWS. */
function merge(existing: RequestRow[], incoming: RequestRow[]): RequestRow[] {
  const byId = new Map(existing.map((r) => [r.id, r]));
  for (const r of incoming) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => ts(b.received_at) - ts(a.received_at) || (a.id < b.id ? 1 : -1)).slice(0, MAX_ROWS);
}

export function RequestsPage() {
  const filters = useMemo(() => filtersFromUrl(location.value.search), [location.value.search]);
  const [rows, setRows] = useState<RequestRow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string>();
  const [paused, setPaused] = useState(false);
  const [inflight, setInflight] = useState<Map<string, InFlight>>(new Map());
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const buffered = useRef<RequestRow[]>([]);
  const [bufferedCount, setBufferedCount] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  useEffect(() => {
    void loadKeyNames();
    void loadProviderIds();
  }, []);

  const fetchPage = (after: string | null) =>
    api.get<{ data: RequestRow[]; next_cursor: string | null }>(
      `/api/requests${query({ limit: 100, cursor: after, provider: filters.provider, model: filters.model, key: filters.key, project: filters.project, status: filters.status })}`,
    );

  const load = async () => {
    setLoading(true);
    setError(undefined);
    try {
      const r = await fetchPage(null);
      setRows(merge([], r.data));
      setCursor(r.next_cursor);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    buffered.current = [];
    setBufferedCount(0);
    void load();
  }, [filters]);

  /**
   * Adds finished rows at the top. The list keeps MAX_ROWS; rows pushed out at the bottom (also
   * ones loaded with "Load older") can be loaded again: the cursor moves to the oldest row kept.
   */
  const addLive = (incoming: RequestRow[]) =>
    setRows((prev) => {
      const next = merge(prev, incoming);
      const kept = new Set(next.map((r) => r.id));
      if (prev.some((r) => !kept.has(r.id))) setCursor(next[next.length - 1]!.id);
      return next;
    });

  const more = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const r = await fetchPage(cursor);
      setRows((prev) => [...prev, ...r.data.filter((x) => !prev.some((p) => p.id === x.id))]);
      setCursor(r.next_cursor);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoadingMore(false);
    }
  };

  // Live: in-flight rows from "started", replaced by the logged row on "finished".
  useEffect(() => {
    const off = subscribe("requests", (m) => {
      const f = filtersRef.current;
      if (m?.type === "started" && m.request?.id) {
        const r = m.request;
        if (pausedRef.current || f.provider || f.model || f.project || f.status || (f.key && r.client_key_id !== f.key)) return;
        setInflight((prev) => new Map(prev).set(r.id, { ...r, seen: Date.now() }));
      } else if (m?.type === "finished" && Array.isArray(m.requests)) {
        const done: RequestRow[] = m.requests;
        setInflight((prev) => {
          if (!done.some((d) => prev.has(d.id))) return prev;
          const next = new Map(prev);
          for (const d of done) next.delete(d.id);
          return next;
        });
        const shown = done.filter((d) => matches(d, f));
        if (!shown.length) return;
        if (pausedRef.current) {
          buffered.current = merge(buffered.current, shown);
          setBufferedCount(buffered.current.length);
          return;
        }
        addLive(shown);
        markFresh(shown.map((d) => d.id));
      }
    });
    // Forget in-flight rows that never finished (e.g. the request was refused before logging).
    const sweep = setInterval(() => {
      setInflight((prev) => {
        const cutoff = Date.now() - 5 * 60_000;
        if (![...prev.values()].some((r) => r.seen < cutoff)) return prev;
        return new Map([...prev].filter(([, r]) => r.seen >= cutoff));
      });
    }, 30_000);
    return () => {
      off();
      clearInterval(sweep);
    };
  }, []);

  const freshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const markFresh = (ids: string[]) => {
    setFresh((prev) => new Set([...prev, ...ids]));
    clearTimeout(freshTimer.current);
    freshTimer.current = setTimeout(() => setFresh(new Set()), 2500);
  };

  const togglePause = () => {
    if (paused) {
      const b = buffered.current;
      buffered.current = [];
      setBufferedCount(0);
      if (b.length) {
        addLive(b);
        markFresh(b.map((r) => r.id));
      }
    } else setInflight(new Map());
    setPaused(!paused);
  };

  const setFilter = (patch: Partial<Filters>) => {
    const next = { ...filters, ...patch };
    navigate(`/requests${query(next)}`, { replace: true });
  };

  const projects = useMemo(() => [...new Set(rows.map((r) => r.project).filter(Boolean) as string[])].sort(), [rows]);
  const models = useMemo(() => [...new Set(rows.flatMap((r) => [r.model, r.upstream_model]).filter(Boolean) as string[])].sort(), [rows]);
  const providers = useMemo(() => [...new Set([...providerIds.value, ...(rows.map((r) => r.provider).filter(Boolean) as string[])])].sort(), [rows, providerIds.value]);
  const keys = [...keyNames.value.entries()];
  const flying = [...inflight.values()].sort((a, b) => ts(b.received_at) - ts(a.received_at));
  const hasFilters = !!(filters.provider || filters.model || filters.key || filters.project || filters.status);
  const live = liveStatus.value.state === "open";

  return (
    <>
      <PageHeader title="Live requests" sub={paused ? "Paused: new requests are held until you resume." : live ? "Updating live as requests finish." : "Live updates are disconnected; reconnecting…"}>
        <button type="button" class={`btn ${paused ? "primary" : ""}`} aria-pressed={paused} onClick={togglePause} data-testid="pause">
          {paused ? `Resume${bufferedCount ? ` (${bufferedCount} new)` : ""}` : "Pause"}
        </button>
        <button type="button" class="btn" onClick={load} disabled={loading}>
          Refresh
        </button>
      </PageHeader>

      <form class="filters card" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <Field label="Provider">
          <select value={filters.provider} onChange={onValue((v) => setFilter({ provider: v }))}>
            <option value="">All providers</option>
            {providers.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Model">
          <TextFilter id="model-options" placeholder="Any model" value={filters.model} options={models} onChange={(v) => setFilter({ model: v })} />
        </Field>
        <Field label="Client key">
          <select value={filters.key} onChange={onValue((v) => setFilter({ key: v }))}>
            <option value="">All keys</option>
            {filters.key && !keyNames.value.has(filters.key) && <option value={filters.key}>{filters.key}</option>}
            {keys.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Project">
          <TextFilter id="project-options" placeholder="Any project" value={filters.project} options={projects} onChange={(v) => setFilter({ project: v })} />
        </Field>
        <Field label="Status">
          <select value={filters.status} onChange={onValue((v) => setFilter({ status: v as Filters["status"] }))}>
            <option value="">Any</option>
            <option value="ok">Succeeded</option>
            <option value="error">Failed</option>
          </select>
        </Field>
        {hasFilters && (
          <button type="button" class="btn small clear-filters" onClick={() => navigate("/requests", { replace: true })}>
            Clear filters
          </button>
        )}
      </form>

      <ErrorBox error={error} onRetry={load} />
      {loading && rows.length === 0 ? (
        <Loading />
      ) : rows.length === 0 && flying.length === 0 ? (
        <Empty>{hasFilters ? "No requests match these filters." : "No requests yet. Send one to /v1 with a client key and it shows up here."}</Empty>
      ) : (
        <div class="table-wrap card flush">
          <table class="table requests-table" data-testid="requests-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Status</th>
                <th scope="col">Model</th>
                <th scope="col" class="hide-sm">Provider</th>
                <th scope="col" class="hide-sm">Key</th>
                <th scope="col" class="num">Tokens in / out</th>
                <th scope="col" class="num">Cost</th>
                <th scope="col" class="num hide-sm">Latency</th>
                <th scope="col" class="num hide-sm">TTFB</th>
              </tr>
            </thead>
            <tbody>
              {flying.map((r) => (
                <tr key={r.id} class="inflight" data-request-id={r.id} data-state="in-flight">
                  <td class="c-time">{time(r.received_at)}</td>
                  <td class="c-status">
                    <Badge tone="info">
                      <span class="pulse" aria-hidden="true" /> in flight
                    </Badge>
                  </td>
                  <td class="c-model muted mono">{r.endpoint}</td>
                  <td class="hide-sm muted">…</td>
                  <td class="hide-sm">{keyLabel(r.client_key_id)}</td>
                  <td class="c-tokens num muted">…</td>
                  <td class="c-cost num muted">…</td>
                  <td class="num hide-sm muted">…</td>
                  <td class="num hide-sm muted">…</td>
                </tr>
              ))}
              {rows.map((r) => (
                <RequestTr key={r.id} r={r} fresh={fresh.has(r.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && rows.length > 0 && (
        <div class="more">
          <button type="button" class="btn" onClick={more} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load older requests"}
          </button>
        </div>
      )}
    </>
  );
}

/** A free-text filter with suggestions (values seen in the loaded rows), applied on change or Enter. */
function TextFilter({ id, placeholder, value, options, onChange }: { id: string; placeholder: string; value: string; options: string[]; onChange: (v: string) => void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  return (
    <>
      <input
        list={id}
        placeholder={placeholder}
        value={text}
        onInput={onValue(setText)}
        onChange={onValue((v) => onChange(v.trim()))}
        onKeyDown={(e) => e.key === "Enter" && onChange(text.trim())}
      />
      <datalist id={id}>
        {options.map((m) => (
          <option key={m} value={m} />
        ))}
      </datalist>
    </>
  );
}

export function StatusBadge({ status, errorClass }: { status: number | string; errorClass: string | null }) {
  const ok = isOk(status);
  return (
    <Badge tone={ok ? "ok" : "bad"} title={errorClass ?? undefined}>
      {ok ? status : `${status}${errorClass ? ` · ${errorClass}` : ""}`}
    </Badge>
  );
}

function RequestTr({ r, fresh }: { r: RequestRow; fresh: boolean }) {
  const href = `/requests/${encodeURIComponent(r.id)}`;
  const model = r.model ?? r.upstream_model ?? "–";
  return (
    <tr class={`clickable ${fresh ? "fresh" : ""}`} data-request-id={r.id} data-state="done" onClick={(e) => !(e.target as Element).closest("a") && navigate(href)}>
      <td class="c-time">
        <a href={href} aria-label={`Request ${r.id} at ${time(r.received_at)}`}>
          {time(r.received_at)}
        </a>
      </td>
      <td class="c-status">
        <StatusBadge status={r.status} errorClass={r.error_class} />
        {r.stream && (
          <span class="tag" title="Streamed response">
            stream
          </span>
        )}
      </td>
      <td class="c-model model-cell" title={r.upstream_model && r.upstream_model !== model ? `${model} → ${r.upstream_model}` : model}>
        <span class="mono">{model}</span>
        {r.upstream_model && r.upstream_model !== model && <span class="muted small">→ {r.upstream_model}</span>}
      </td>
      <td class="hide-sm">{r.provider ?? "–"}</td>
      <td class="hide-sm">{keyLabel(r.client_key_id)}</td>
      <td class="c-tokens num">
        {int(r.input_tokens)} / {int(r.output_tokens)}
        {!!r.usage_estimated && (
          <span class="muted" title="Estimated by the gateway: the upstream reported no usage">
            ~
          </span>
        )}
        {!!r.cached_tokens && <div class="muted small">{int(r.cached_tokens)} cached</div>}
      </td>
      <td class="c-cost num">{r.cost_usd !== null ? usd(r.cost_usd) : isUnpricedRow(r) ? <span class="unpriced">unpriced</span> : DASH}</td>
      <td class="num hide-sm nowrap">{ms(r.latency_ms)}</td>
      <td class="num hide-sm nowrap">{ms(r.ttfb_ms)}</td>
    </tr>
  );
}

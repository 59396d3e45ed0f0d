import { useState } from "preact/hooks";
import { api, errorMessage, query } from "../lib/api.ts";
import { dateTime, time } from "../lib/format.ts";
import type { AuditEntry } from "../lib/types.ts";
import { Empty, ErrorBox, Loading, PageHeader, useLoad } from "../components/ui.tsx";

type Page = { data: AuditEntry[]; next_cursor: string | null };

function detailText(detail: unknown): string {
  if (detail == null) return "";
  if (typeof detail !== "object") return String(detail);
  return Object.entries(detail as Record<string, unknown>)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join("  ");
}

export function AuditPage() {
  const load = useLoad((signal) => api.get<Page>(`/api/audit${query({ limit: 50 })}`, signal), []);
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const next = cursor === undefined ? load.data?.next_cursor : cursor;
  const rows = [...(load.data?.data ?? []), ...older];

  const more = async () => {
    if (!next) return;
    setBusy(true);
    try {
      const r = await api.get<Page>(`/api/audit${query({ limit: 50, cursor: next })}`);
      setOlder((prev) => [...prev, ...r.data]);
      setCursor(r.next_cursor);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="Audit log" sub="Every sign-in and admin change: who, what, when and from where.">
        <button
          type="button"
          class="btn"
          onClick={() => {
            setOlder([]);
            setCursor(undefined);
            void load.reload();
          }}
        >
          Refresh
        </button>
      </PageHeader>
      <ErrorBox error={load.error ?? error} onRetry={load.error ? load.reload : undefined} />
      {!load.data && load.loading && <Loading />}
      {load.data && rows.length === 0 && <Empty>Nothing recorded yet.</Empty>}
      {rows.length > 0 && (
        <div class="table-wrap card flush">
          <table class="table audit-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">User</th>
                <th scope="col">Action and target</th>
                <th scope="col" class="hide-sm">Detail</th>
                <th scope="col" class="hide-sm">IP</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <td class="nowrap" title={dateTime(e.at)}>
                    {time(e.at)}
                  </td>
                  <td>{e.username ?? <span class="muted">system</span>}</td>
                  <td>
                    <span class="tag mono">{e.action}</span>
                    {e.target && <div class="mono small muted break">{e.target}</div>}
                  </td>
                  <td class="mono small hide-sm break">{detailText(e.detail)}</td>
                  <td class="mono small hide-sm">{e.ip ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <div class="more">
          <button type="button" class="btn" onClick={more} disabled={busy}>
            {busy ? "Loading…" : "Load older entries"}
          </button>
        </div>
      )}
    </>
  );
}

import { useEffect } from "preact/hooks";
import { api } from "../lib/api.ts";
import { dateTime, int, isUnpricedRow, ms, picoToUsd, toDate, usd } from "../lib/format.ts";
import { keyLabel, loadKeyNames } from "../lib/lookups.ts";
import type { RequestDetail } from "../lib/types.ts";
import { Badge, Card, Empty, ErrorBox, JsonBlock, Loading, PageHeader, useLoad } from "../components/ui.tsx";
import { StatusBadge } from "./requests.tsx";

export function RequestDetailPage({ id }: { id: string }) {
  const load = useLoad((signal) => api.get<RequestDetail>(`/api/requests/${encodeURIComponent(id)}`, signal), [id]);
  useEffect(() => void loadKeyNames(), []);
  const d = load.data;
  return (
    <>
      <p class="crumbs">
        <a href="/requests">← Live requests</a>
      </p>
      <PageHeader title="Request" sub={<span class="mono">{id}</span>} />
      <ErrorBox error={load.error} onRetry={load.reload} />
      {!d && load.loading && <Loading />}
      {d && <Detail d={d} />}
    </>
  );
}

function Detail({ d }: { d: RequestDetail }) {
  const r = d.request;
  const received = toDate(r.received_at)?.getTime();
  const firstByte = toDate(r.first_byte_at)?.getTime();
  const finished = toDate(r.finished_at)?.getTime();
  const cb = r.cost_breakdown;
  const estimated = r.usage_estimated === true || r.usage_estimated === 1;
  const model = r.model ?? r.requested_model ?? null;
  return (
    <div class="detail-grid">
      <Card title="Summary" class="span-2">
        <dl class="kv" data-testid="request-summary">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={r.status} errorClass={r.error_class} />
            {r.error_message && <div class="text-bad small">{r.error_message}</div>}
          </dd>
          <dt>Received</dt>
          <dd>{dateTime(r.received_at)}</dd>
          <dt>Endpoint</dt>
          <dd class="mono">{r.endpoint}</dd>
          <dt>Model</dt>
          <dd>
            <span class="mono">{model ?? "–"}</span>
            {r.upstream_model && r.upstream_model !== model && <span class="muted"> → upstream {r.upstream_model}</span>}
            {r.response_model && r.response_model !== r.upstream_model && <span class="muted"> (answered as {r.response_model})</span>}
          </dd>
          <dt>Provider</dt>
          <dd>
            {r.provider ?? "–"}
            {r.provider_type && <span class="muted"> ({r.provider_type})</span>}
          </dd>
          <dt>Client key</dt>
          <dd>{keyLabel(r.client_key_id)}</dd>
          <dt>Streamed</dt>
          <dd>{r.stream ? "yes" : "no"}</dd>
          <dt>Latency</dt>
          <dd>
            {ms(r.latency_ms)} total · TTFB {ms(r.ttfb_ms ?? (firstByte && received ? firstByte - received : null))}
            {finished && received ? <span class="muted"> · finished {dateTime(finished)}</span> : null}
          </dd>
          <dt>Cost</dt>
          <dd data-testid="request-cost">{r.cost_usd !== null ? usd(r.cost_usd) : isUnpricedRow(r) ? <span class="unpriced">unpriced</span> : "none"}</dd>
          <dt>Client</dt>
          <dd class="small">
            {r.client_ip ?? "–"}
            {r.user_agent && <span class="muted"> · {r.user_agent}</span>}
          </dd>
        </dl>
      </Card>

      <Card title="Fallback chain">
        {r.attempts && r.attempts.length ? (
          <ol class="attempts">
            {r.attempts.map((a, i) => (
              <li key={i} class={a.ok ? "ok" : "bad"}>
                <div class="attempt-head">
                  <span class="mono">{a.target}</span>
                  <Badge tone={a.ok ? "ok" : "bad"}>{a.ok ? "answered" : "failed"}</Badge>
                </div>
                <div class="muted small">
                  {a.keyIndex != null && `key #${a.keyIndex + 1} · `}
                  {a.status != null && `HTTP ${a.status} · `}
                  {a.errorClass && `${a.errorClass} · `}
                  {ms(a.durationMs)}
                </div>
                {a.message && <div class="small attempt-msg">{a.message}</div>}
              </li>
            ))}
          </ol>
        ) : (
          <Empty>No upstream attempt was made{r.error_class ? ` (${r.error_class})` : ""}.</Empty>
        )}
      </Card>

      <Card title="Usage">
        <table class="table compact" data-testid="usage-table">
          <tbody>
            <tr>
              <th scope="row">Input tokens</th>
              <td class="num">{int(r.input_tokens)}</td>
            </tr>
            <tr>
              <th scope="row">of which cached</th>
              <td class="num">{int(r.cached_tokens)}</td>
            </tr>
            {r.cache_write_tokens != null && (
              <tr>
                <th scope="row">Cache writes</th>
                <td class="num">{int(r.cache_write_tokens)}</td>
              </tr>
            )}
            <tr>
              <th scope="row">Output tokens</th>
              <td class="num">{int(r.output_tokens)}</td>
            </tr>
            <tr>
              <th scope="row">of which reasoning</th>
              <td class="num">{int(r.reasoning_tokens)}</td>
            </tr>
          </tbody>
        </table>
        {estimated && <p class="small warn-text">The upstream reported no usage; these counts are estimated.</p>}
        {r.usage_raw != null && <JsonBlock summary="Usage as reported by the provider" value={r.usage_raw} />}
      </Card>

      <Card title="Cost breakdown">
        {cb ? (
          <>
            <table class="table compact" data-testid="cost-table">
              <tbody>
                {(
                  [
                    ["Input", cb.input],
                    ["Cache reads", cb.cache_read],
                    ["Cache writes", cb.cache_write],
                    ["Output", cb.output],
                    ["Reasoning", cb.reasoning],
                  ] as const
                ).map(([label, pico]) => (
                  <tr key={label}>
                    <th scope="row">{label}</th>
                    <td class="num">{usd(picoToUsd(pico ?? 0))}</td>
                  </tr>
                ))}
                <tr class="total">
                  <th scope="row">Total</th>
                  <td class="num">{usd(picoToUsd(cb.total))}</td>
                </tr>
                {cb.upstream != null && (
                  <tr>
                    <th scope="row">Reported by upstream</th>
                    <td class="num">{usd(picoToUsd(cb.upstream))}</td>
                  </tr>
                )}
              </tbody>
            </table>
            <dl class="kv small">
              <dt>Pricing entry</dt>
              <dd class="mono">{r.pricing_entry ?? "–"}</dd>
              <dt>Matching rule</dt>
              <dd>{r.pricing_rule ?? "–"}</dd>
              {cb.tier && (
                <>
                  <dt>Tier</dt>
                  <dd>{cb.tier}</dd>
                </>
              )}
            </dl>
            {cb.approximate && <p class="small warn-text">Approximate: the model was matched loosely; check the pricing entry.</p>}
            {cb.notes?.length ? (
              <ul class="small notes">
                {cb.notes.map((n, i) => (
                  <li key={i}>{n}</li>
                ))}
              </ul>
            ) : null}
          </>
        ) : !isUnpricedRow(r) ? (
          <p class="muted" data-testid="no-cost">
            No cost: {Number(r.status) >= 400 ? "the request failed, and failed calls are not billed." : "no tokens were used."}
          </p>
        ) : (
          <>
            <p>
              <span class="unpriced">unpriced</span>{" "}
              <span class="muted">{r.pricing_rule && r.pricing_rule !== "unpriced" ? `(${r.pricing_rule})` : "— no price is known for this model."}</span>
            </p>
            <p class="small">
              Set a price on the <a href="/pricing">Models &amp; pricing</a> page, then recompute.
            </p>
          </>
        )}
      </Card>

      <Card title="Warnings">
        {r.warnings && r.warnings.length ? (
          <ul class="warnings">
            {r.warnings.map((w, i) => (
              <li key={i}>{typeof w === "string" ? w : [w.code, w.message].filter(Boolean).join(": ") || JSON.stringify(w)}</li>
            ))}
          </ul>
        ) : (
          <Empty>None.</Empty>
        )}
      </Card>

      <Card title="Bodies" class="span-2">
        {d.bodies && (d.bodies.request != null || d.bodies.response != null) ? (
          <>
            {d.bodies.request != null && <JsonBlock summary="Request body" value={d.bodies.request} open />}
            {d.bodies.response != null && <JsonBlock summary="Response body" value={d.bodies.response} />}
          </>
        ) : (
          <Empty>Bodies were not stored for this request (enable “store bodies” on the client key or in the config).</Empty>
        )}
      </Card>
    </div>
  );
}

import type { ResolvedProvider } from "../config.ts";
import { classifyError } from "./errors.ts";
import { getAdapter } from "./registry.ts";

/**
 * A cheap liveness probe for providers without traffic: `GET {base}/models` with the provider's
 * own auth headers (taken from the adapter's request builder, so every provider type is covered).
 * Model listing is not a chat call, so it lives beside run.ts rather than in it; it costs nothing.
 */
export async function probeProvider(
  provider: ResolvedProvider,
  options: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<{ ok: boolean; status?: number; errorClass?: string }> {
  const adapter = getAdapter(provider.type);
  const base = (provider.baseUrl ?? adapter?.defaultBaseUrl)?.replace(/\/+$/, "");
  if (!adapter || !base) return { ok: false, errorClass: "bad_request" };
  const { http } = adapter.buildRequest(
    { model: provider.models?.[0] ?? "probe", messages: [{ role: "user", content: "probe" }] },
    { apiKey: provider.apiKeys[0]?.value ?? "", baseUrl: provider.baseUrl, headers: provider.headers, instanceId: provider.id },
    { stream: false },
  );
  const headers = { ...http.headers };
  delete headers["content-type"];
  try {
    const res = await (options.fetch ?? fetch)(`${base}/models`, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    await res.body?.cancel();
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, status: res.status, errorClass: classifyError({ status: res.status, message: "" }).errorClass };
  } catch (e) {
    return { ok: false, errorClass: (e as Error)?.name === "TimeoutError" ? "timeout" : "network" };
  }
}

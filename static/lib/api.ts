/**
 * The admin API client. Every mutating call sends `X-Requested-With: llm-proxy` and a JSON body
 * (the server's CSRF check); errors come back as `{error:{message,type,param,code}}` and are
 * thrown as ApiError with that message. A 401 outside the sign-in endpoints means the session
 * ended: the app is told (onSignedOut) so it can go to /login.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Seconds, from Retry-After (429). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

let signedOutHandler: (() => void) | undefined;
/** Registers what to do when a call answers 401 (the session expired or was revoked). */
export function onSignedOut(fn: () => void): void {
  signedOutHandler = fn;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export async function request<T = any>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") {
    headers["x-requested-with"] = "llm-proxy";
    headers["content-type"] = "application/json";
  }
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: method === "GET" ? undefined : JSON.stringify(body ?? {}),
      credentials: "same-origin",
      cache: "no-store",
      signal,
    });
  } catch (e) {
    if ((e as Error)?.name === "AbortError") throw e;
    throw new ApiError("Cannot reach the server. Check that llm-proxy is running.", 0, "network_error");
  }
  const text = await res.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data?.error;
    const retry = Number(res.headers.get("retry-after"));
    const message =
      typeof err?.message === "string" && err.message
        ? err.message
        : res.status === 404
          ? `This server does not provide ${method} ${path.split("?")[0]} (404).`
          : `Request failed (${res.status} ${res.statusText}).`;
    const error = new ApiError(message, res.status, err?.code ?? null, err?.param ?? null, Number.isFinite(retry) && retry > 0 ? retry : null);
    if (res.status === 401 && !path.startsWith("/api/auth/")) signedOutHandler?.();
    throw error;
  }
  return data as T;
}

export const api = {
  get: <T = any>(path: string, signal?: AbortSignal) => request<T>("GET", path, undefined, signal),
  post: <T = any>(path: string, body?: unknown) => request<T>("POST", path, body),
  put: <T = any>(path: string, body?: unknown) => request<T>("PUT", path, body),
  patch: <T = any>(path: string, body?: unknown) => request<T>("PATCH", path, body),
  del: <T = any>(path: string) => request<T>("DELETE", path),
};

/** `?a=1&b=x` from an object, leaving out empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

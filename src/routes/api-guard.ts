import { Elysia } from "elysia";
import type { z } from "zod";
import { AuditLog } from "../auth/audit.ts";
import {
  readSessionCookie,
  Sessions,
  type SecureCookiePolicy,
  type SessionInfo,
  type SessionUser,
} from "../auth/sessions.ts";
import { MemoryLoginThrottle, type LoginThrottle, type ThrottleOptions } from "../auth/throttle.ts";
import { bcryptHasher, BCRYPT_COST, Users, type PasswordHasher } from "../auth/users.ts";
import type { Db } from "../db/client.ts";
import { ClientError } from "../errors.ts";
import type { Logger, LogFields } from "../logger.ts";

/**
 * The admin API's front door, shared by every `/api` route file.
 *
 * `apiGate(deps)` is mounted once by app.ts and runs before routing for every `/api` request:
 *   - `cache-control: no-store` on every answer;
 *   - client keys (`Authorization: Bearer …`, `x-api-key`) are refused with 401: they only work on /v1;
 *   - CSRF on every non-GET/HEAD/OPTIONS: an `Origin` (else `Referer`) naming another host is
 *     refused; with neither, the custom header `X-Requested-With: llm-proxy` is required (403);
 *   - a valid session cookie is required (401) except on the sign-in endpoints;
 *   - viewers cannot mutate (403) except to sign out and change their own password.
 * Unknown /api paths get these checks too, so a new route is never accidentally public.
 *
 * `apiGuard(deps)` is what a route file `.use()`s to get the typed `auth` ({ user, session, ip })
 * into its handlers; it reuses the gate's result (and runs the same checks itself if the gate was
 * not mounted, e.g. in a unit test of one route file).
 *
 * @example
 * export function providerRoutes(deps: ApiDeps, store: ProviderStore) {
 *   return new Elysia({ prefix: "/api/providers" })
 *     .use(apiGuard(deps))
 *     .get("/", () => store.list())                       // admins and viewers
 *     .post("/", async ({ auth, body }) => {              // admins only (the gate refuses viewers)
 *       const input = parseBody(providerInputSchema, body);
 *       const view = await store.create(input);
 *       audit(auth, "provider.create", `provider:${view.id}`, { type: view.type });
 *       return view;
 *     });
 * }
 */

export type ApiDeps = {
  db: Db;
  users: Users;
  sessions: Sessions;
  throttle: LoginThrottle;
  auditLog: AuditLog;
  hasher: PasswordHasher;
  log: Logger;
  secureCookies: SecureCookiePolicy;
  now: () => number;
};

/** Knobs for tests only: production always uses bcrypt cost 12 and the default throttle. */
export type ApiTestOptions = {
  bcryptCost?: number;
  throttle?: Partial<ThrottleOptions> | LoginThrottle;
  now?: () => number;
};

/** Builds the admin API's dependencies from the database, the 32-byte master key and the config. */
export function createApiDeps(input: {
  db: Db;
  masterKey: Uint8Array;
  log: Logger;
  dashboard: { secureCookies: SecureCookiePolicy; sessionTtlMs: number };
  test?: ApiTestOptions;
}): ApiDeps {
  const now = input.test?.now ?? Date.now;
  const hasher = bcryptHasher(input.test?.bcryptCost ?? BCRYPT_COST);
  const t = input.test?.throttle;
  const throttle = t && "begin" in t ? t : new MemoryLoginThrottle({ now, ...t });
  return {
    db: input.db,
    users: new Users(input.db, hasher, now),
    sessions: new Sessions(input.db, input.masterKey, { ttlMs: input.dashboard.sessionTtlMs, now }),
    throttle,
    auditLog: new AuditLog(input.db, now),
    hasher,
    log: input.log,
    secureCookies: input.dashboard.secureCookies,
    now,
  };
}

const AUDIT = Symbol("audit-log");

/** The signed-in caller of an `/api` request. */
export type ApiAuth = {
  user: SessionUser;
  /** The server-side session (its `id` is a hash, not the cookie; still never return it). */
  session: SessionInfo;
  ip: string | null;
  readonly [AUDIT]: AuditLog;
};

/**
 * Records an admin action by the caller: who (user), what (`action`, e.g. "provider.update"; `target`,
 * e.g. "provider:openai"), when, and from which IP. Secret-looking `detail` fields are redacted.
 */
export function audit(auth: ApiAuth, action: string, target: string | null, detail?: LogFields): void {
  auth[AUDIT].record({ userId: auth.user.id, username: auth.user.username, ip: auth.ip }, action, target, detail);
}

/** Throws 403 unless the caller is an admin (for admin-only reads; the gate already stops viewer writes). */
export function requireAdmin(auth: ApiAuth): void {
  if (auth.user.role !== "admin") throw forbidden("This needs the admin role.", "admin_required");
}

/**
 * Validates a JSON body with a zod schema. Errors name the field and the rule, never the value
 * (Elysia's own validation errors echo the body, passwords included: BUN-NOTES §10).
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = issue.path.reduce<string>((a, k) => (typeof k === "number" ? `${a}[${k}]` : a ? `${a}.${String(k)}` : String(k)), "") || null;
  const message = body === undefined || body === null || typeof body !== "object" ? "Send a JSON object body." : issue.message;
  throw new ClientError(400, `Invalid request${param ? ` '${param}'` : ""}: ${message}`, "invalid_request_error", param, issue.code ?? null);
}

/** The client's IP as the socket sees it (no proxy headers are trusted for identity). */
export function clientIp(server: { requestIP(request: Request): { address: string } | null } | null | undefined, request: Request): string | null {
  try {
    return server?.requestIP(request)?.address ?? null;
  } catch {
    return null;
  }
}

// ---- the checks --------------------------------------------------------------------------------

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** No session needed (still CSRF-checked when mutating). */
const PUBLIC = new Set(["POST /api/auth/login", "POST /api/auth/logout", "GET /api/auth/setup", "POST /api/auth/setup"]);
/** Mutations a viewer may make: only about their own session and password. */
const SELF_SERVICE = new Set(["POST /api/auth/logout", "POST /api/auth/password"]);

export const unauthorized = (message = "Sign in to use the admin API.", code = "not_signed_in") =>
  new ClientError(401, message, "authentication_error", null, code);
export const forbidden = (message: string, code: string) => new ClientError(403, message, "permission_error", null, code);

/** The normalised `/api` path of a request URL, or undefined for anything else. */
export function apiPath(url: string): string | undefined {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return undefined;
  // Cheap rejection first (every /v1 request passes here): after collapsing slashes, an /api path's
  // first segment starts with "api".
  let first = start;
  while (url.charCodeAt(first + 1) === 47) first++;
  if (!url.startsWith("api", first + 1)) return undefined;
  let end = url.length;
  for (const c of ["?", "#"]) {
    const i = url.indexOf(c, start);
    if (i >= 0 && i < end) end = i;
  }
  // Collapse repeated slashes and drop a trailing one, as the router would.
  const path = url.slice(start, end).replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1");
  return path === "/api" || path.startsWith("/api/") ? path : undefined;
}

/** Client keys never authenticate on /api: refuse them outright so a mix-up is obvious. */
function refuseClientKeys(headers: Headers) {
  const authorization = headers.get("authorization");
  if ((authorization && /^\s*bearer\s/i.test(authorization)) || headers.has("x-api-key")) {
    throw unauthorized("API keys are not accepted on the admin API: client keys work on /v1 only. Sign in to the dashboard instead.", "api_key_not_accepted");
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * CSRF check for a mutating request. The browser sets `Origin` (or, failing that, `Referer`) and a
 * foreign page cannot forge either, nor add a custom header without a CORS preflight we never grant.
 * `Origin: null` (sent e.g. under `Referrer-Policy: no-referrer`) counts as absent.
 */
export function checkCsrf(request: Request): void {
  const own = new Set<string>();
  const host = request.headers.get("host")?.trim().toLowerCase();
  if (host) own.add(host);
  // A proxy may rewrite Host; a cross-site page cannot set X-Forwarded-Host, so it is safe to accept.
  const forwarded = request.headers.get("x-forwarded-host")?.split(",")[0]?.trim().toLowerCase();
  if (forwarded) own.add(forwarded);
  if (!own.size) own.add(new URL(request.url).host.toLowerCase());

  const origin = request.headers.get("origin");
  const source = origin && origin !== "null" ? origin : request.headers.get("referer");
  if (source) {
    const h = hostOf(source);
    if (h && own.has(h)) return;
    throw forbidden("Cross-origin request refused.", "csrf_rejected");
  }
  if (request.headers.get("x-requested-with")?.toLowerCase() === "llm-proxy") return;
  throw forbidden("Missing Origin: send 'X-Requested-With: llm-proxy' with admin API calls.", "csrf_rejected");
}

const admitted = new WeakMap<Request, ApiAuth>();

/** Resolves and checks the session for a request that needs one (401/403), remembering the result. */
function authenticate(deps: ApiDeps, request: Request, ip: string | null, key: string): ApiAuth {
  const active = deps.sessions.verify(readSessionCookie(request.headers));
  if (!active) throw unauthorized();
  if (!SAFE_METHODS.has(request.method) && active.user.role !== "admin" && !SELF_SERVICE.has(key)) {
    throw forbidden("Viewers have read-only access.", "read_only_role");
  }
  const auth: ApiAuth = { user: active.user, session: active.session, ip, [AUDIT]: deps.auditLog };
  admitted.set(request, auth);
  return auth;
}

/** All checks for one /api request; returns the caller, or undefined on a public endpoint. */
function admit(deps: ApiDeps, request: Request, ip: string | null, requireSession: boolean): ApiAuth | undefined {
  const path = apiPath(request.url) ?? new URL(request.url).pathname;
  const key = `${request.method} ${path}`;
  refuseClientKeys(request.headers);
  if (!SAFE_METHODS.has(request.method)) checkCsrf(request);
  if (!requireSession && PUBLIC.has(key)) return undefined;
  return authenticate(deps, request, ip, key);
}

/**
 * The signed-in user behind a request's session cookie, or undefined: for WebSocket upgrades
 * (BUN-NOTES §4: `beforeHandle` runs twice, so it must stay side-effect free; this only reads,
 * plus at most one `last_seen_at` write a minute).
 * @example .ws("/ws", { beforeHandle: ({ request, status }) => { if (!sessionOf(deps, request.headers)) return status(401, "unauthorized"); } })
 */
export function sessionOf(deps: ApiDeps, headers: Headers): { user: SessionUser; session: SessionInfo } | undefined {
  return deps.sessions.verify(readSessionCookie(headers));
}

/** Global pre-routing checks for `/api` (mount once, in app.ts). */
export function apiGate(deps: ApiDeps) {
  return new Elysia({ name: "api-gate" }).onRequest(({ request, set, server }) => {
    if (!apiPath(request.url)) return;
    set.headers["cache-control"] = "no-store";
    admit(deps, request, clientIp(server, request), false);
  });
}

/** Per route file: puts the signed-in caller into handlers as `auth` (401/403 as the gate would). */
export function apiGuard(deps: ApiDeps) {
  return new Elysia().resolve({ as: "scoped" }, ({ request, server, set }) => {
    set.headers["cache-control"] = "no-store";
    const auth = admitted.get(request) ?? admit(deps, request, clientIp(server, request), true)!;
    return { auth };
  });
}

import { Elysia } from "elysia";
import { z } from "zod";
import { clearedSessionCookie, readSessionCookie, sessionCookie, wantsSecureCookie, type SessionUser } from "../auth/sessions.ts";
import { completeSetup, setupRequired } from "../auth/setup.ts";
import { retryAfterSeconds, type LoginAttempt } from "../auth/throttle.ts";
import { checkPassword, MAX_PASSWORD_LENGTH, type UserRow } from "../auth/users.ts";
import { ClientError } from "../errors.ts";
import { apiGuard, audit, clientIp, parseBody, unauthorized, type ApiDeps } from "./api-guard.ts";

/** Sign-in endpoints: login, logout, me, first-admin setup, own password change. */
const password = z.string().min(1).max(MAX_PASSWORD_LENGTH);
const loginSchema = z.strictObject({ username: z.string().min(1).max(200), password });
const setupSchema = z.strictObject({ token: z.string().min(1).max(200), username: z.string().min(1).max(200), password });
const passwordSchema = z.strictObject({ current_password: password, new_password: password });

const userJson = (u: SessionUser | UserRow) => ({ id: u.id, username: u.username, role: u.role });
const badCredentials = () => unauthorized("Incorrect username or password.", "invalid_credentials");

async function throttled(deps: ApiDeps, attempt: LoginAttempt) {
  const wait = await deps.throttle.begin(attempt);
  if (wait > 0) {
    const seconds = retryAfterSeconds(wait);
    deps.log.warn("dashboard sign-in throttled", { ip: attempt.ip, retry_after_s: seconds });
    throw new ClientError(429, `Too many failed attempts; try again in ${seconds} s.`, "rate_limit_error", null, "too_many_attempts", {
      "retry-after": String(seconds),
    });
  }
}

export function authRoutes(deps: ApiDeps) {
  /** Starts a session for `user` and sets the cookie. */
  function signIn(user: UserRow, request: Request, ip: string | null, set: { headers: Record<string, unknown> }) {
    const { token } = deps.sessions.create(user.id, { ip, userAgent: request.headers.get("user-agent") });
    set.headers["set-cookie"] = sessionCookie(token, wantsSecureCookie(request, deps.secureCookies));
  }

  const open = new Elysia({ prefix: "/api/auth" })
    .post("/login", async ({ body, request, server, set }) => {
      const input = parseBody(loginSchema, body);
      const ip = clientIp(server, request);
      const attempt = { username: input.username, ip };
      await throttled(deps, attempt);
      const user = await deps.users.authenticate(input.username, input.password);
      if (!user) {
        deps.log.warn("dashboard sign-in failed", { ip });
        throw badCredentials();
      }
      await deps.throttle.succeed(attempt);
      signIn(user, request, ip, set);
      deps.auditLog.record({ userId: user.id, username: user.username, ip }, "auth.login", `user:${user.id}`);
      deps.log.info("dashboard sign-in", { user: user.username, ip });
      return { user: userJson(user) };
    })
    .post("/logout", ({ request, server, set }) => {
      const active = deps.sessions.verify(readSessionCookie(request.headers));
      if (active) {
        deps.sessions.revoke(active.session.id);
        deps.auditLog.record({ userId: active.user.id, username: active.user.username, ip: clientIp(server, request) }, "auth.logout", `user:${active.user.id}`);
      }
      set.headers["set-cookie"] = clearedSessionCookie(wantsSecureCookie(request, deps.secureCookies));
      return { signed_out: true };
    })
    .get("/setup", () => ({ setup_required: setupRequired(deps.db) }))
    .post("/setup", async ({ body, request, server, set }) => {
      const input = parseBody(setupSchema, body);
      const ip = clientIp(server, request);
      await throttled(deps, { ip });
      const user = await completeSetup(deps.db, deps.hasher, input, deps.now);
      await deps.throttle.succeed({ ip });
      signIn(user, request, ip, set);
      deps.auditLog.record({ userId: user.id, username: user.username, ip }, "setup.first_admin", `user:${user.id}`);
      deps.log.info("first admin created through the setup link", { user: user.username, ip });
      return { user: userJson(user) };
    });

  const signedIn = new Elysia({ prefix: "/api/auth" })
    .use(apiGuard(deps))
    .get("/me", ({ auth }) => ({ user: userJson(auth.user) }))
    .post("/password", async ({ auth, body }) => {
      const input = parseBody(passwordSchema, body);
      const attempt = { username: auth.user.username, ip: auth.ip };
      await throttled(deps, attempt);
      const row = deps.users.get(auth.user.id);
      if (!(await deps.users.verifyPassword(row, input.current_password))) {
        // 400, not 401: the session is fine, and a 401 would read as "signed out" to the dashboard.
        throw new ClientError(400, "The current password is incorrect.", "invalid_request_error", "current_password", "incorrect_password");
      }
      await deps.throttle.succeed(attempt);
      checkPassword(input.new_password, "new_password");
      await deps.users.setPassword(auth.user.id, input.new_password);
      // Every other session of this user ends now; the one making the change stays signed in.
      const revoked = deps.sessions.revokeUser(auth.user.id, auth.session.id);
      audit(auth, "user.password_change", `user:${auth.user.id}`, { revoked_sessions: revoked });
      return { user: userJson(auth.user), revoked_sessions: revoked };
    });

  return new Elysia().use(open).use(signedIn);
}

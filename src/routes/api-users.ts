import { Elysia } from "elysia";
import { z } from "zod";
import { checkPassword, MAX_PASSWORD_LENGTH, publicUser, ROLES } from "../auth/users.ts";
import { apiGuard, audit, parseBody, requireAdmin, type ApiDeps } from "./api-guard.ts";

/** Users (admin only, every change audited): list, create, change role, reset password, remove. */
const password = z.string().min(1).max(MAX_PASSWORD_LENGTH);
const createSchema = z.strictObject({ username: z.string().min(1).max(200), password, role: z.enum(ROLES) });
const patchSchema = z
  .strictObject({ role: z.enum(ROLES).optional(), password: password.optional() })
  .refine((p) => p.role !== undefined || p.password !== undefined, { message: "Send 'role' and/or 'password'." });

export function userRoutes(deps: ApiDeps) {
  return new Elysia({ prefix: "/api/users" })
    .use(apiGuard(deps))
    .onBeforeHandle(({ auth }) => requireAdmin(auth))
    .get("/", () => ({ data: deps.users.list().map(publicUser) }))
    .post("/", async ({ auth, body, set }) => {
      const input = parseBody(createSchema, body);
      const row = await deps.users.create(input);
      audit(auth, "user.create", `user:${row.id}`, { username: row.username, role: row.role });
      set.status = 201;
      return { user: publicUser(row) };
    })
    .patch("/:id", async ({ auth, body, params }) => {
      const input = parseBody(patchSchema, body);
      if (input.password !== undefined) checkPassword(input.password); // before any change: no half-applied PATCH
      let row = deps.users.get(params.id);
      let revoked = 0;
      if (input.role !== undefined) {
        const result = deps.users.setRole(row.id, input.role);
        row = result.row;
        if (result.changed) {
          // A role change ends all of that user's sessions (the caller's too, if it is themselves).
          revoked += deps.sessions.revokeUser(row.id);
          audit(auth, "user.role_change", `user:${row.id}`, { username: row.username, role: row.role });
        }
      }
      if (input.password !== undefined) {
        row = await deps.users.setPassword(row.id, input.password);
        // A reset ends the user's sessions; an admin resetting their own keeps the current one.
        revoked += deps.sessions.revokeUser(row.id, row.id === auth.user.id ? auth.session.id : undefined);
        audit(auth, "user.password_reset", `user:${row.id}`, { username: row.username });
      }
      return { user: publicUser(row), revoked_sessions: revoked };
    })
    .delete("/:id", ({ auth, params }) => {
      const row = deps.users.remove(params.id);
      audit(auth, "user.remove", `user:${row.id}`, { username: row.username, role: row.role });
      return { id: row.id, deleted: true };
    });
}


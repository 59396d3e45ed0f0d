import { Elysia } from "elysia";
import { z } from "zod";
import { apiGuard, parseBody, requireAdmin, type ApiDeps } from "./api-guard.ts";

/** `GET /api/audit?cursor&limit`: the admin audit log, newest first (admin only). */
const querySchema = z.strictObject({
  cursor: z.string().regex(/^aud_[0-9A-Z]{26}$/, "must be a next_cursor from a previous page").optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function auditRoutes(deps: ApiDeps) {
  return new Elysia({ prefix: "/api/audit" })
    .use(apiGuard(deps))
    .get("/", ({ auth, query }) => {
      requireAdmin(auth);
      const { cursor, limit } = parseBody(querySchema, { ...query });
      return deps.auditLog.list({ cursor, limit });
    });
}

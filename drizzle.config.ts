import { defineConfig } from "drizzle-kit";

// Only `drizzle-kit generate` is used (it needs no driver); migrations are applied by the app.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
});

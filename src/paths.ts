import path from "node:path";

/**
 * The one place that knows where bundled files live.
 * In a compiled binary every module's `import.meta.dir` is `/$bunfs/root` and the build embeds
 * `static/` and `drizzle/` there (build.ts `compile.assets`). Under `bun run`/`bun test` they sit at
 * the project root, one level above `src/`.
 */
export const IS_COMPILED: boolean = Bun.isStandaloneExecutable;
export const ASSET_ROOT: string = IS_COMPILED ? import.meta.dir : path.resolve(import.meta.dir, "..");
export const MIGRATIONS_DIR: string = path.join(ASSET_ROOT, "drizzle");
export const STATIC_DIR: string = path.join(ASSET_ROOT, "static");
/** The WAL checkpointer's Worker: an extra entrypoint of the compiled build (build.ts), at the same path below the root. */
export const CHECKPOINT_WORKER: string = path.join(import.meta.dir, "db/checkpoint-worker.ts");

/**
 * Default data directory: `llm-proxy-data` beside the executable (PocketBase's `pb_data` model),
 * or at the project root when running from source. Systemd installs set LLM_PROXY_DATA_DIR.
 */
export function defaultDataDir(): string {
  return IS_COMPILED
    ? path.join(path.dirname(process.execPath), "llm-proxy-data")
    : path.join(ASSET_ROOT, "llm-proxy-data");
}
